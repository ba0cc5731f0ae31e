import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { MIGRATION_LEASE_TABLE, openDatabase } from '../../packages/server/src/db/database.js';
import { makeTestEnv, type TestEnv } from '../helpers/server.js';

/**
 * Migrations run under a lease row that a node renews while it migrates and that runs
 * out when its holder dies. A node killed while running a migration outside a
 * transaction left knex's lock row set, and every later start gave up after about 11 s
 * with "Migration table is already locked"; a node waiting for another's long migration
 * gave up the same way.
 */
const envs: TestEnv[] = [];
afterAll(async () => {
  for (const e of envs) await e.cleanup();
});

function freshConfig() {
  const e = makeTestEnv();
  envs.push(e);
  return loadConfig(e.env);
}

const lines: string[] = [];
const log = { debug() {}, info: (msg: string) => lines.push(msg), warn() {}, error() {} } as never;

/** An open database with its lease row set as another node would have left it. */
async function leaseHeldBy(config: ReturnType<typeof loadConfig>, expiresAt: number) {
  const db = await openDatabase(config);
  await db.knex(MIGRATION_LEASE_TABLE).insert({ id: 1, holder: 'other-host 4242 a-node', expires_at: expiresAt });
  return db;
}

async function migrationsApplied(config: ReturnType<typeof loadConfig>): Promise<number> {
  const db = await openDatabase(config);
  try {
    return Number((await db.knex('knex_migrations').count({ n: '*' }))[0]!.n);
  } finally {
    await db.close();
  }
}

describe('database migrations', () => {
  it('start after a node died while migrating: its knex lock row is cleared, its run-out lease taken over', async () => {
    const config = freshConfig();
    const first = await leaseHeldBy(config, Date.now() - 1);
    await first.knex('knex_migrations_lock').update({ is_locked: 1 });
    await first.close();
    const again = await openDatabase(config);
    expect(Number((await again.knex('knex_migrations_lock').first('is_locked'))!.is_locked)).toBe(0);
    // the lease is given back once the migrations are done
    expect(await again.knex(MIGRATION_LEASE_TABLE).count({ n: '*' })).toEqual([{ n: expect.anything() }]);
    expect(Number((await again.knex(MIGRATION_LEASE_TABLE).count({ n: '*' }))[0]!.n)).toBe(0);
    await again.close();
    expect(await migrationsApplied(config)).toBeGreaterThan(0);
  }, 30_000);

  it('a node waits while another holds the lease, says so once, and goes on when it is given back', async () => {
    const config = freshConfig();
    const other = await leaseHeldBy(config, Date.now() + 60_000);
    lines.length = 0;
    let opened = false;
    const opening = openDatabase(config, { serverLog: log }).then((db) => {
      opened = true;
      return db;
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(opened).toBe(false);
    expect(lines.filter((l) => l.startsWith('waiting for another node'))).toHaveLength(1);
    await other.knex(MIGRATION_LEASE_TABLE).where({ id: 1 }).delete();
    await other.close();
    await (await opening).close();
  }, 30_000);

  it('a node waiting on a lease whose holder died goes on when the lease runs out', async () => {
    const config = freshConfig();
    const leaseEnds = Date.now() + 2000;
    const other = await leaseHeldBy(config, leaseEnds);
    await other.close();
    await (await openDatabase(config)).close();
    // not before the lease ran out (measured from when it ends: closing the other pool may take a while under load)
    expect(Date.now()).toBeGreaterThanOrEqual(leaseEnds);
  }, 30_000);
});
