import knexFactory from 'knex';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { isUnavailable } from './errors.js';

// the driver has no type declarations; only what these tests use
interface SqliteDb {
  exec(sql: string): unknown;
  close(): void;
}
const Database = createRequire(import.meta.url)('better-sqlite3') as new (file: string, opts?: { timeout?: number }) => SqliteDb;

const dir = mkdtempSync(join(tmpdir(), 'mcube-unavailable-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** the error a call rejects with */
const errorOf = (f: () => unknown) => Promise.resolve().then(f).then(() => expect.unreachable('no error'), (e: unknown) => e);

describe('isUnavailable: failures of the database connection (503) apart from failures of the request (500, 4xx)', () => {
  it('PostgreSQL refusing the connection', async () => {
    // port 1 on loopback: nothing listens there
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/test', connectionTimeoutMillis: 2000 });
    expect(isUnavailable(await errorOf(() => client.connect()))).toBe(true);
  });

  it('no pooled connection in time (knex)', async () => {
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: join(dir, 'pool.sqlite') }, useNullAsDefault: true, pool: { min: 1, max: 1 }, acquireConnectionTimeout: 200 });
    try {
      const trx = await knex.transaction();
      expect(isUnavailable(await errorOf(() => knex.raw('select 1')))).toBe(true);
      await trx.rollback();
    } finally {
      await knex.destroy();
    }
  });

  it('SQLite busy: another process holds the write lock', async () => {
    const file = join(dir, 'busy.sqlite');
    const a = new Database(file);
    const b = new Database(file, { timeout: 0 });
    try {
      a.exec('create table t (x int)');
      a.exec('begin immediate');
      expect(isUnavailable(await errorOf(() => b.exec('insert into t values (1)')))).toBe(true);
      a.exec('rollback');
    } finally {
      a.close();
      b.close();
    }
  });

  it('not: a constraint violation, a syntax error, a plain bug', async () => {
    const db = new Database(join(dir, 'plain.sqlite'));
    try {
      db.exec('create table u (x int primary key)');
      db.exec('insert into u values (1)');
      expect(isUnavailable(await errorOf(() => db.exec('insert into u values (1)')))).toBe(false);
      expect(isUnavailable(await errorOf(() => db.exec('selec 1')))).toBe(false);
    } finally {
      db.close();
    }
    expect(isUnavailable(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
  });
});
