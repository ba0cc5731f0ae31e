import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { openDatabase, sqliteMigrationLockFile } from '../../packages/server/src/db/database.js';
import { ADMIN_MAIN, runCommand } from '../helpers/process.js';
import { makeTestEnv, testDb, testPgUrl, type TestEnv } from '../helpers/server.js';

/**
 * Migrations run under a lock freed with its holder (a PostgreSQL advisory lock, or a
 * SQLite lock file naming a live process). A node killed while running a migration
 * outside a transaction left knex's lock row set, and every later start gave up after
 * about 11 s with "Migration table is already locked"; a node waiting for another's long
 * migration gave up the same way.
 */
const envs: TestEnv[] = [];
afterAll(async () => {
  for (const e of envs) await e.cleanup();
});

function freshConfig() {
  const e = makeTestEnv();
  envs.push(e);
  return { env: e.env, config: loadConfig(e.env) };
}

const lines: string[] = [];
const log = { debug() {}, info: (msg: string, f?: object) => lines.push(`${msg} ${JSON.stringify(f ?? {})}`), warn() {}, error() {} } as never;

/** A process id that ran on this host and no longer does. */
async function deadPid(): Promise<number> {
  const p = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => p.on('exit', r));
  return p.pid!;
}

describe('database migrations', () => {
  it('start after a node died holding the migration lock (its lock row, and on SQLite its lock file, stay behind)', async () => {
    const { config } = freshConfig();
    const first = await openDatabase(config);
    await first.knex('knex_migrations_lock').update({ is_locked: 1 });
    await first.close();
    if (testDb === 'sqlite') writeFileSync(sqliteMigrationLockFile(config), `${await deadPid()} ${hostname()} some-earlier-process\n`);
    // a container restarted after a kill runs under the same process id: that earlier life's lock is stale too
    const again = await openDatabase(config);
    expect(Number((await again.knex('knex_migrations_lock').first('is_locked'))!.is_locked)).toBe(0);
    expect(Number((await again.knex('knex_migrations').count({ n: '*' }))[0]!.n)).toBeGreaterThan(0);
    await again.close();
    if (testDb === 'sqlite') {
      writeFileSync(sqliteMigrationLockFile(config), `${process.pid} ${hostname()} an-earlier-life\n`);
      const third = await openDatabase(config);
      await third.close();
    }
  }, 30_000);

  it('a node waits for the lock as long as another holds it, and says so once', async () => {
    const { config } = freshConfig();
    let release: () => Promise<void>;
    if (testDb === 'postgres') {
      const holder = new pg.Client({ connectionString: testPgUrl });
      await holder.connect();
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', [`mcube:migrations:${config.dbSchema ?? ''}`]);
      release = () => holder.end();
    } else {
      const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
      writeFileSync(sqliteMigrationLockFile(config), `${sleeper.pid} ${hostname()} another-process\n`);
      release = async () => {
        sleeper.kill();
        await new Promise((r) => sleeper.on('exit', r));
      };
    }
    lines.length = 0;
    let opened = false;
    const opening = openDatabase(config, { serverLog: log }).then((db) => {
      opened = true;
      return db;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(opened).toBe(false);
    expect(lines.filter((l) => l.startsWith('waiting for another'))).toHaveLength(1);
    await release();
    const db = await opening;
    expect(Number((await db.knex('knex_migrations').count({ n: '*' }))[0]!.n)).toBeGreaterThan(0);
    await db.close();
  }, 30_000);

  it('admin "migrations unlock" removes a lock file left by a process of another host (it cannot be judged from here)', async () => {
    const { env, config } = freshConfig();
    if (testDb === 'sqlite') writeFileSync(sqliteMigrationLockFile(config), `4242 another-host.example some-token\n`);
    const r = await runCommand(process.execPath, [ADMIN_MAIN, 'migrations', 'unlock'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(testDb === 'sqlite' ? /migrations\.lock removed/ : /PostgreSQL: nothing to unlock/);
    const listed = await runCommand(process.execPath, [ADMIN_MAIN, 'tenants', 'list'], env);
    expect(listed.code).toBe(0);
  }, 30_000);
});
