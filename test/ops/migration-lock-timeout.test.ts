import knexFactory, { type Knex } from 'knex';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { migrationSource, migrations } from '../../migrations/index.js';
import { MIGRATION_LEASE_TABLE, migrate } from '../../packages/server/src/db/database.js';
import { testPgUrl } from '../helpers/server.js';

/**
 * PostgreSQL only, in both suite runs (SQLite has no lock queue: its writers take turns and WAL readers never wait).
 * An ALTER TABLE waiting for its lock behind a long transaction queued every later statement on that table behind
 * itself: a node migrating during a rolling deploy made the running nodes stop answering anything touching the table
 * until that transaction ended. Each migration now waits for its lock a short time and is tried again.
 */
const schemas: string[] = [];
const open: Knex[] = [];
afterAll(async () => {
  for (const k of open) await k.destroy().catch(() => {});
  const admin = knexFactory({ client: 'pg', connection: testPgUrl, pool: { min: 0, max: 1 } });
  for (const s of schemas) await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [s]).catch(() => {});
  await admin.destroy();
});

function connect(schema: string, max = 4): Knex {
  // knex prints "migration failed ... lock timeout" for every retry the test provokes on purpose
  const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} };
  const k = knexFactory({ client: 'pg', connection: testPgUrl, searchPath: [schema], pool: { min: 0, max }, log: quiet });
  open.push(k);
  return k;
}

/** A schema migrated up to 013, so that 014 (a new column on nebula_resources) is pending. */
async function schemaBefore014(): Promise<{ schema: string; knex: Knex }> {
  const schema = 'lk_' + randomBytes(6).toString('hex');
  schemas.push(schema);
  const knex = connect(schema);
  await knex.raw('CREATE SCHEMA ??', [schema]);
  const upTo013 = Object.keys(migrations).filter((n) => n < '014');
  await knex.migrate.latest({ migrationSource: { ...migrationSource, getMigrations: async () => upTo013 } });
  return { schema, knex };
}

/** A transaction that has read nebula_resources and stays open: it holds a lock that ALTER TABLE must wait for. */
async function longReader(schema: string): Promise<Knex.Transaction> {
  const trx = await connect(schema, 1).transaction();
  await trx.raw('SELECT count(*) FROM nebula_resources');
  return trx;
}

function recorder() {
  const warnings: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const log = { debug() {}, info() {}, error() {}, warn: (msg: string, fields: Record<string, unknown>) => warnings.push({ msg, fields }) };
  return { warnings, log: log as never };
}

const columnExists = async (knex: Knex) => (await knex.raw("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'nebula_resources' AND column_name = 'global_pack_url'")).rows.length === 1;

describe('PostgreSQL migrations behind a long transaction', () => {
  it('do not hold up other statements on the table, and finish once the transaction ends', async () => {
    const { schema, knex } = await schemaBefore014();
    const blocker = await longReader(schema);
    const { warnings, log } = recorder();
    const migrating = migrate(knex, log, { lockTimeoutMs: 150, giveUpAfterMs: 60_000 });
    const failed = migrating.then(
      () => null,
      (e: Error) => e,
    );
    // the migration has queued its ALTER TABLE and timed out at least once
    for (let i = 0; i < 100 && warnings.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(warnings[0]).toMatchObject({ fields: { migration: '014_global_pack_url', attempt: 1 } });

    // another node reads and writes the table meanwhile; before, both waited behind the ALTER until the blocker ended
    const other = connect(schema, 1);
    const reads = await other.transaction(async (trx) => {
      await trx.raw("SET LOCAL statement_timeout = '3s'");
      await trx.raw('UPDATE nebula_resources SET h5_id = h5_id WHERE id < 0');
      return (await trx.raw('SELECT count(*)::int AS n FROM nebula_resources')).rows[0].n as number;
    });
    expect(reads).toBe(0);
    expect(await columnExists(knex)).toBe(false);

    await blocker.commit();
    expect(await failed).toBeNull();
    expect(await columnExists(knex)).toBe(true);
    const last = await knex('knex_migrations').orderBy('id', 'desc').first('name');
    expect(last.name).toBe(Object.keys(migrations).at(-1));
    expect(Number((await knex(MIGRATION_LEASE_TABLE).count({ n: '*' }))[0]!.n)).toBe(0);
  }, 60_000);

  it('give up after the configured time naming the migration, leaving it undone and the lease given back', async () => {
    const { schema, knex } = await schemaBefore014();
    const blocker = await longReader(schema);
    try {
      const { log } = recorder();
      await expect(migrate(knex, log, { lockTimeoutMs: 100, giveUpAfterMs: 800 })).rejects.toThrow(
        /database migration 014_global_pack_url could not lock its table for \d+ s: another transaction holds it/,
      );
    } finally {
      await blocker.rollback();
    }
    expect(await columnExists(knex)).toBe(false);
    const last = await knex('knex_migrations').orderBy('id', 'desc').first('name');
    expect(last.name).toBe('013_switch_configs');
    expect(Number((await knex(MIGRATION_LEASE_TABLE).count({ n: '*' }))[0]!.n)).toBe(0);
    // knex's own lock is free again, so the next start migrates
    await migrate(knex, undefined);
    expect(await columnExists(knex)).toBe(true);
  }, 60_000);
});
