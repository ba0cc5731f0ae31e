import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { loadConfig, type Config } from '../../../packages/server/src/config.js';
import type { BlobStore } from '../../../packages/server/src/core/blob-store.js';
import { SecretBox } from '../../../packages/server/src/core/crypto.js';
import { createLogger } from '../../../packages/server/src/core/logger.js';
import { Metrics } from '../../../packages/server/src/core/metrics.js';
import type { Deps } from '../../../packages/server/src/core/registry.js';
import { openDatabase, type Database } from '../../../packages/server/src/db/database.js';
import { createBlobStore } from '../../../packages/server/src/features/storage/index.js';

/** Tables the server's requests may add rows to for an authenticated caller, whatever the outcome. */
export const AUTH_TABLES = ['audit_log', 'request_nonces', 'rate_windows'];

/** Every table of the schema (knex's own bookkeeping excluded), so a table added later is counted too. */
export async function tableNames(knex: Knex, dialect: Database['dialect']): Promise<string[]> {
  const rows: Array<{ name: string }> =
    dialect === 'sqlite'
      ? await knex.raw("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'knex_%'")
      : (await knex.raw("select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not like 'knex_%'")).rows;
  return rows.map((r) => r.name).sort();
}

export async function tableCounts(db: Pick<Database, 'knex' | 'dialect'>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of await tableNames(db.knex, db.dialect)) {
    const r = await db.knex(t).count({ n: '*' });
    out[t] = Number((r[0] as { n: unknown }).n);
  }
  return out;
}

/**
 * Each table's whole content as one digest (rows sorted as text), so an
 * update in place shows too, not only a row added or removed.
 */
export async function tableDigests(db: Pick<Database, 'knex' | 'dialect'>, ignore: string[] = []): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of await tableNames(db.knex, db.dialect)) {
    if (ignore.includes(t)) continue;
    const rows = (await db.knex(t).select('*')) as Array<Record<string, unknown>>;
    const lines = rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.toString('hex') : v))).sort();
    out[t] = `${rows.length}:${createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16)}`;
  }
  return out;
}

/** Tables whose row count (or digest) differs, as "table: before -> after". */
export function changedTables<V>(before: Record<string, V>, after: Record<string, V>, ignore: string[] = []): string[] {
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((t) => !ignore.includes(t) && before[t] !== after[t]).map((t) => `${t}: ${before[t]} -> ${after[t]}`);
}

export async function listKeys(blobs: BlobStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of blobs.list(prefix)) out.push(o.key);
  return out.sort();
}

/**
 * The database and blob store a server process uses, opened from the same
 * environment, for tests that watch a real process from outside.
 */
export interface SharedState {
  config: Config;
  db: Database;
  box: SecretBox;
  blobs: BlobStore;
  /** Deps as the janitor and the admin CLI build them */
  deps(overrides?: Partial<Config['janitor']>): Deps;
  close(): Promise<void>;
}

export async function openSharedState(env: Record<string, string>): Promise<SharedState> {
  const config = loadConfig(env);
  const db = await openDatabase(config);
  const box = new SecretBox(config.masterKey);
  const log = createLogger('silent');
  const blobs = await createBlobStore(config, log);
  return {
    config,
    db,
    box,
    blobs,
    deps: (janitor = {}) => ({
      config: { ...config, janitor: { ...config.janitor, ...janitor } },
      db,
      log,
      box,
      blobs,
      now: Date.now,
      metrics: new Metrics(),
      onDeliveryChange: () => {},
    }),
    async close() {
      await blobs.close?.();
      await db.close();
    },
  };
}
