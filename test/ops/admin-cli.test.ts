import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_MAIN, runCommand } from '../helpers/process.js';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import knexFactory from 'knex';
import { makeTestEnv, testPgUrl, type TestEnv } from '../helpers/server.js';

/**
 * The admin command's arguments: an option it does not know is refused, not ignored
 * (`keys rotate K --grace=0` during an incident used to leave the leaked key working for
 * the default day, with exit 0), and `--name=value` means what `--name value` means.
 */
const envs: TestEnv[] = [];
afterAll(async () => {
  for (const e of envs) await e.cleanup();
});

/** An admin command on a database it set up itself, before any node started. */
async function adminFor() {
  const e = makeTestEnv();
  envs.push(e);
  const admin = (...args: string[]) => runCommand(process.execPath, [ADMIN_MAIN, ...args], e.env);
  const setup = await admin('tenants', 'list', '--create-database');
  expect(setup.code, setup.stderr).toBe(0);
  return admin;
}

describe('admin command line', () => {
  it('refuses unknown options, options without their value and extra arguments, changing nothing', async () => {
    const admin = await adminFor();
    expect((await admin('tenants', 'create', 'ACME01', '--name', 'Acme')).code).toBe(0);
    const key = JSON.parse((await admin('keys', 'create', '--tenant', 'ACME01', '--json')).stdout).accessKeyId as string;
    for (const bad of [
      ['keys', 'rotate', key, '--grace', '0'],
      ['keys', 'rotate', key, '--grace-seconds'],
      ['keys', 'rotate', key, 'extra'],
      ['apps', 'create', 'ACMEAPP0000009', '--tenant', 'ACME01', '--workpace', 'prod'],
      ['keys', 'list', '--json=yes'],
    ]) {
      const r = await admin(...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stdout, bad.join(' ')).toBe('');
    }
    expect((await admin('keys', 'rotate', key, '--grace', '0')).stderr).toContain('"keys rotate" has no option --grace (it takes --grace-seconds)');
    // nothing was rotated or created by the refused commands
    const keys = JSON.parse((await admin('keys', 'list', '--json')).stdout) as Array<{ id: string; expiresAt: number | null }>;
    expect(keys.find((k) => k.id === key)?.expiresAt).toBeNull();
    expect(JSON.parse((await admin('apps', 'list', '--json')).stdout).some((a: { app_id: string }) => a.app_id === 'ACMEAPP0000009')).toBe(false);
    // a workspace id that is refused leaves no app behind without a workspace
    const badWs = await admin('apps', 'create', 'ACMEAPP0000010', '--tenant', 'ACME01', '--workspace', 'bad/ws');
    expect(badWs.code).not.toBe(0);
    expect(badWs.stderr).toContain('workspace id must be');
    expect(JSON.parse((await admin('apps', 'list', '--json')).stdout).some((a: { app_id: string }) => a.app_id === 'ACMEAPP0000010')).toBe(false);
  }, 60_000);

  it('reads --name=value as --name value, and says what rotation did to the old key by its state', async () => {
    const admin = await adminFor();
    await admin('tenants', 'create', 'ACME01');
    const key = JSON.parse((await admin('keys', 'create', '--tenant=ACME01', '--json')).stdout).accessKeyId as string;
    const now = JSON.parse((await admin('keys', 'rotate', key, '--grace-seconds=0', '--json')).stdout);
    expect(Date.parse(now.previousExpiresAt)).toBeLessThanOrEqual(Date.now());
    const other = JSON.parse((await admin('keys', 'create', '--tenant', 'ACME01', '--json')).stdout).accessKeyId as string;
    expect((await admin('keys', 'disable', other)).code).toBe(0);
    const disabled = await admin('keys', 'rotate', other, '--grace-seconds', '600');
    expect(disabled.stdout).toContain(`${other} is disabled and stays refused`);
    expect((await admin('keys', 'rotate', key)).stdout).toMatch(new RegExp(`${key} had already ended at `));
    // an unknown key: one line, exit 2, no help text
    const missing = await admin('keys', 'rotate', 'MCAKDOESNOTEXIST0000000');
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('error: no AccessKey MCAKDOESNOTEXIST0000000');
    // create is idempotent and says when it changed nothing
    expect((await admin('tenants', 'create', 'ACME01', '--name', 'Other')).stdout).toMatch(/tenant ACME01 already exists \(name "ACME01", active\); nothing changed/);
  }, 60_000);

  it('refuses a database that is not there (a mistyped data folder or schema) instead of setting up an empty one', async () => {
    const e = makeTestEnv();
    envs.push(e);
    const run = (env: Record<string, string>, ...args: string[]) => runCommand(process.execPath, [ADMIN_MAIN, ...args], env);
    const listing = () => readdirSync(e.dataDir);
    // no node has started here: nothing to work on
    const fresh = await run(e.env, 'tenants', 'create', 'ACME01');
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/^error: no mcube database in /);
    expect(fresh.stderr).toContain('or start a node once to create it');
    expect(listing()).toEqual([]);
    // nor without a master key: none is generated
    const keyless = { ...e.env, MCUBE_MASTER_KEY: '' };
    const noKey = await run(keyless, 'keys', 'list');
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('error: no master key: set MCUBE_MASTER_KEY as the nodes have it');
    expect(listing()).toEqual([]);
    // a data folder that does not exist is not created
    const elsewhere = join(e.dataDir, 'typo');
    expect((await run({ ...e.env, MCUBE_DATA_DIR: elsewhere }, 'keys', 'list')).code).toBe(1);
    expect(existsSync(elsewhere)).toBe(false);
    if (e.schema) {
      const k = knexFactory({ client: 'pg', connection: testPgUrl, pool: { min: 0, max: 1 } });
      try {
        expect((await k.raw('select 1 from information_schema.schemata where schema_name = ?', [e.schema])).rows).toEqual([]);
      } finally {
        await k.destroy();
      }
    }
    // a PostgreSQL that cannot be reached: one line naming DATABASE_URL (password hidden), no driver stack
    const down = await run({ ...e.env, DATABASE_URL: 'postgres://postgres:hunter2@127.0.0.1:1/test' }, 'keys', 'list');
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: cannot open PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test \(DATABASE_URL\): /)]);
    // asked for, it sets one up; a master key it generates is named, since every node must then use it
    const made = await run(keyless, 'tenants', 'create', 'ACME01', '--create-database');
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toContain(`generated a new master key in ${join(e.dataDir, 'master.key')}: every node must use it`);
    e.env.MCUBE_MASTER_KEY = readFileSync(join(e.dataDir, 'master.key'), 'utf8').trim();
    expect((await run(e.env, 'tenants', 'list')).stdout).toContain('ACME01');
  }, 60_000);
});
