import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { migrationSource, migrations } from '../../../../migrations/index.js';
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../core/logger.js';
import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { PgStatements } from './pg-statements.js';

export type Db = Knex;

/** Connecting to PostgreSQL, and waiting for a free pooled connection: past these a call fails (503) instead of hanging. */
const PG_CONNECT_TIMEOUT_MS = 5000;
const PG_ACQUIRE_TIMEOUT_MS = 10_000;
/**
 * A statement on an open connection had no limit: a lock held by a forgotten psql session, or a link that stops
 * answering, held signed calls (and then the shutdown) for good. The server cancels a statement past
 * statement_timeout; the client gives up past query_timeout when no answer comes at all, and TCP keep-alive finds a
 * dead link. The per-request statements of signed calls get seconds; the main pool (actions, snapshot loads, whitelist
 * imports) a minute. Migrations run on a connection of their own without these (an index build may take minutes).
 */
const PG_HOT_TIMEOUTS = { statement_timeout: 5_000, query_timeout: 8_000 };
const PG_MAIN_TIMEOUTS = { statement_timeout: 60_000, query_timeout: 65_000 };
const PG_KEEPALIVE = { keepAlive: true, keepAliveInitialDelayMillis: 10_000 };

export interface SqliteRunResult {
  changes: number;
  rows: Array<Record<string, unknown>>;
}

/** The part of a better-sqlite3 connection the raw paths use. */
interface SqliteConn {
  inTransaction: boolean;
  prepare(sql: string): { reader: boolean; all(b: readonly unknown[]): unknown[]; run(b: readonly unknown[]): { changes: number } };
  pragma(s: string): unknown;
  function(name: string, options: { deterministic: boolean }, fn: (v: unknown) => unknown): unknown;
}

export interface Database {
  knex: Knex;
  dialect: 'sqlite' | 'pg';
  /** SQLite: a worker thread checkpoints the log (server nodes; db/checkpointer.ts) */
  readonly checkpointing: boolean;
  /** an error code that means "unique constraint violated" */
  isUniqueViolation(err: unknown): boolean;
  /**
   * One hand-written statement (`?` placeholders, valid on both databases)
   * without the query builder: rows for SELECT and RETURNING. The hot paths
   * (credentials, scope, simple reads) use it; knex's builder costs more than
   * SQLite's execution of such a statement.
   */
  all<T = Record<string, unknown>>(sql: string, bindings?: readonly unknown[]): Promise<T[]>;
  /**
   * SQLite only: runs `fn` synchronously inside BEGIN IMMEDIATE ... COMMIT on
   * the shared connection, so a batch of small writes costs one commit.
   * Returns undefined (nothing run) when the database is PostgreSQL or when a
   * knex transaction holds the connection; the caller then uses knex.
   */
  sqliteBatch<T>(fn: (run: (sql: string, bindings: readonly unknown[]) => SqliteRunResult) => T): T | undefined;
  /** connections of each pool: "main" (knex) and, on PostgreSQL, "hot" (all()) */
  poolStats(): PoolStats[];
  close(): Promise<void>;
}

export interface PoolStats {
  pool: 'main' | 'hot';
  max: number;
  used: number;
  idle: number;
  /** callers waiting for a connection: the sign of a pool too small for the load */
  waiting: number;
}

/** the part of knex's (tarn) pool read for poolStats() */
interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/**
 * Where knex's own messages go: a node's JSON log (stdout must stay JSON
 * lines), or stderr for the admin command (its stdout may be --json output).
 * By default knex prints plain text to the console.
 */
function knexLog(log: Logger | undefined, quiet = false) {
  const emit = (level: 'warn' | 'error', message: unknown) => {
    // the admin command: a failure reaches it as the rejection, said in one line
    if (quiet) return;
    const text = typeof message === 'string' ? message : message instanceof Error ? message.message : JSON.stringify(message);
    if (log) log.log(level, 'knex', { message: text });
    else process.stderr.write(`knex ${level}: ${text}\n`);
  };
  return {
    warn: (m: unknown) => emit('warn', m),
    error: (m: unknown) => emit('error', m),
    deprecate: (m: unknown) => emit('warn', m),
    debug: () => {},
  };
}

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dbSchema' | 'dataDir' | 'dbPreparedStatements' | 'dbPoolMax' | 'dbHotPoolMax'> & Partial<Pick<Config, 'dbStatementTimeouts'>>,
  /**
   * serverLog: server nodes pass their logger: SQLite's WAL checkpoints then run in a worker thread (db/checkpointer.ts).
   * existing: refuse (ConfigError) rather than create a database that is not there (the admin command).
   * quiet: knex's own warnings (a stack per failed connection attempt) are not printed.
   */
  opts: { serverLog?: Logger; existing?: boolean; quiet?: boolean } = {},
): Promise<Database> {
  let knex: Knex;
  // PostgreSQL: the migrations' own connections, without the statement timeouts
  let migrationKnex: Knex | undefined;
  let dialect: Database['dialect'];
  // The pool's single SQLite connection, for the raw statements of all()/sqliteBatch().
  let sqlite: SqliteConn | undefined;
  let checkpointer: Checkpointer | undefined;
  // PostgreSQL: a small pool of its own for db.all(), without knex's runner in between
  let hotPool: pg.Pool | undefined;
  let statements: PgStatements | undefined;
  const sqliteFile = join(config.dataDir, 'mcube.sqlite');
  // statement_timeout travels as a startup parameter, which PgBouncer refuses unless told to ignore it; query_timeout
  // is the client's own and always applies
  const serverSide = (t: typeof PG_MAIN_TIMEOUTS) => (config.dbStatementTimeouts === false ? { query_timeout: t.query_timeout } : t);
  if (config.databaseUrl) {
    dialect = 'pg';
    const schema = config.dbSchema;
    const pgKnex = (timeouts: Partial<typeof PG_MAIN_TIMEOUTS>, max: number) =>
      knexFactory({
        client: 'pg',
        log: knexLog(opts.serverLog, opts.quiet),
        // a database that stops answering fails calls within seconds instead of holding them (knex waits 60 s by
        // default); keep-alive finds connections a vanished server or a NAT dropped
        connection: { connectionString: config.databaseUrl!, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, ...PG_KEEPALIVE, ...timeouts },
        acquireConnectionTimeout: PG_ACQUIRE_TIMEOUT_MS,
        searchPath: schema ? [schema] : undefined,
        // bigint (int8) and numeric come back as strings from pg; ours stay below 2^53.
        pool: { min: 0, max },
      });
    knex = pgKnex(serverSide(PG_MAIN_TIMEOUTS), config.dbPoolMax);
    migrationKnex = pgKnex({}, 2);
    if (opts.existing && !(await knex.schema.hasTable('knex_migrations'))) {
      await knex.destroy();
      throw new ConfigError(
        `no mcube database in ${schema ? `schema ${schema}` : 'the default schema'} of the DATABASE_URL database: give DATABASE_URL and MCUBE_DB_SCHEMA as the nodes have them, or start a node once to create it`,
      );
    }
    if (schema) {
      // nodes starting together: IF NOT EXISTS is not atomic, and the loser of the race gets a unique violation
      await knex.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]).catch((e: { code?: string }) => {
        if (e.code !== '23505' && e.code !== '42P06') throw e;
      });
    }
  } else {
    dialect = 'sqlite';
    // created for this user only: it holds sealed secrets, the audit log and whitelisted user ids (SQLite gives its
    // -wal and -shm files the same mode)
    if (!existsSync(sqliteFile)) {
      if (opts.existing) {
        throw new ConfigError(`no mcube database in ${config.dataDir}: give MCUBE_DATA_DIR (or DATABASE_URL) as the nodes have it, or start a node once to create it`);
      }
      closeSync(openSync(sqliteFile, 'a', 0o600));
    }
    const background = !!opts.serverLog;
    knex = knexFactory({
      client: 'better-sqlite3',
      log: knexLog(opts.serverLog, opts.quiet),
      connection: { filename: sqliteFile },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: SqliteConn, done: (err: Error | null, c: unknown) => void) => {
          // knex prepares every statement anew; better-sqlite3 statements are reusable, so keep them.
          const prepare = conn.prepare.bind(conn);
          const cache = new Map<string, unknown>();
          conn.prepare = ((sql: string) => {
            let st = cache.get(sql);
            if (st === undefined) {
              // Take the write lock when a transaction starts: a deferred one that reads first and writes
              // later fails with SQLITE_BUSY (no busy wait) when another process wrote in between.
              st = prepare(sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql);
              if (cache.size >= 500) cache.delete(cache.keys().next().value!);
              cache.set(sql, st);
            }
            return st;
          }) as SqliteConn['prepare'];
          // WAL + busy timeout so several processes can share one file.
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 10000');
          conn.pragma('synchronous = NORMAL');
          conn.pragma('foreign_keys = ON');
          // SQLite's lower() folds ASCII only, so a name search for "été" missed "Été" (PostgreSQL folds all of
          // Unicode): the connection's lower() is JavaScript's. No index is built on lower().
          conn.function('lower', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v));
          // the checkpointer thread keeps the log short; this is the backstop should it fall behind
          if (background) conn.pragma('wal_autocheckpoint = 20000');
          sqlite = conn;
          done(null, conn);
        },
      },
    });
  }
  try {
    await migrate(migrationKnex ?? knex, opts.serverLog);
  } finally {
    await migrationKnex?.destroy();
  }
  if (dialect === 'pg') {
    hotPool = new pg.Pool({
      connectionString: config.databaseUrl ?? undefined,
      connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
      ...PG_KEEPALIVE,
      ...serverSide(PG_HOT_TIMEOUTS),
      max: config.dbHotPoolMax,
      options: config.dbSchema ? `-c search_path=${config.dbSchema}` : undefined,
    });
    // an idle connection the server drops must not take the node down; the next query reconnects
    hotPool.on('error', (e) => opts.serverLog?.warn('postgres connection lost', { error: e.message }));
    statements = new PgStatements(hotPool, config.dbPreparedStatements, (msg, fields) => opts.serverLog?.warn(msg, fields));
  }
  if (dialect === 'sqlite' && opts.serverLog) {
    const log = opts.serverLog;
    checkpointer = startCheckpointer(sqliteFile, (msg) => log.warn('sqlite checkpoint failed', { error: msg }));
  }
  // A knex transaction keeps BEGIN open across awaits on the one connection; a raw
  // statement then would join it (and see or lose its uncommitted rows), so it waits its turn through knex.
  const rawConn = () => (sqlite && !sqlite.inTransaction ? sqlite : undefined);
  const viaKnex = async <T>(sql: string, bindings: readonly unknown[]): Promise<T[]> => {
    const r = (await knex.raw(sql, bindings as Knex.RawBinding[])) as T[] | { rows?: T[] };
    return Array.isArray(r) ? r : (r.rows ?? []);
  };
  return {
    knex,
    dialect,
    checkpointing: checkpointer !== undefined,
    all: <T>(sql: string, bindings: readonly unknown[] = []): Promise<T[]> => {
      if (statements) return statements.query<T>(dollarParams(sql), bindings as unknown[]);
      const conn = rawConn();
      if (!conn) return viaKnex<T>(sql, bindings);
      try {
        const st = conn.prepare(sql);
        if (st.reader) return Promise.resolve(st.all(bindings) as T[]);
        st.run(bindings);
        return Promise.resolve([]);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    sqliteBatch: <T>(fn: (run: (sql: string, bindings: readonly unknown[]) => SqliteRunResult) => T): T | undefined => {
      const conn = rawConn();
      if (!conn) return undefined;
      conn.prepare('BEGIN IMMEDIATE;').run([]);
      try {
        const value = fn((sql, bindings) => {
          const st = conn.prepare(sql);
          if (st.reader) {
            const rows = st.all(bindings) as Array<Record<string, unknown>>;
            return { changes: rows.length, rows };
          }
          return { changes: st.run(bindings).changes, rows: [] };
        });
        conn.prepare('COMMIT;').run([]);
        return value;
      } catch (err) {
        if (conn.inTransaction) conn.prepare('ROLLBACK;').run([]);
        throw err;
      }
    },
    isUniqueViolation: (err) => {
      const e = err as { code?: string; message?: string };
      return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
    },
    poolStats: () => {
      const out: PoolStats[] = [];
      const main = (knex.client as { pool?: TarnPool }).pool;
      if (main) out.push({ pool: 'main', max: main.max, used: main.numUsed(), idle: main.numFree(), waiting: main.numPendingAcquires() });
      if (hotPool) {
        const p = hotPool;
        out.push({ pool: 'hot', max: config.dbHotPoolMax, used: p.totalCount - p.idleCount, idle: p.idleCount, waiting: p.waitingCount });
      }
      return out;
    },
    close: async () => {
      await knex.destroy();
      await hotPool?.end();
      sqlite = undefined;
      await checkpointer?.stop();
    },
  };
}

/** `?` placeholders to PostgreSQL's `$1, $2, …` (the hot statements hold no `?` in literals). */
const dollarCache = new Map<string, string>();
function dollarParams(sql: string): string {
  let out = dollarCache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    if (dollarCache.size < 1000) dollarCache.set(sql, out);
  }
  return out;
}

/**
 * Runs knex's migrations under a lease of our own: one row that a node takes when it is
 * free or run out, renews while it migrates and deletes when done, so a node that dies
 * while migrating holds it back at most MIGRATION_LEASE_MS. knex's own lock is a committed
 * row for migrations that run outside a transaction (the CONCURRENTLY indexes): a node
 * killed while running one left it set, and every later start failed ("Migration table is
 * already locked"). Under the lease that row can only be stale, so it is cleared. Other
 * nodes wait as long as the migrations take (an index build on a big table may take
 * minutes), saying so once. Plain statements, no session state: it works through a
 * pooler in transaction mode, on a SQLite file shared by several processes, and after a
 * container restart under the same process id.
 */
export async function migrate(knex: Knex, log: Logger | undefined, lockWait: MigrationLockWait = DEFAULT_LOCK_WAIT): Promise<void> {
  const release = await takeMigrationLease(knex, log);
  try {
    if (await knex.schema.hasTable(KNEX_LOCK_TABLE)) await knex(KNEX_LOCK_TABLE).update({ is_locked: 0 });
    if (!isPgKnex(knex)) return void (await knex.migrate.latest({ migrationSource }));
    await migratePgWithLockTimeout(knex, log, lockWait);
  } finally {
    await release();
  }
}

/** PostgreSQL: how long one migration may wait for a table lock, and how long it keeps trying again. */
export interface MigrationLockWait {
  lockTimeoutMs: number;
  giveUpAfterMs: number;
}
const DEFAULT_LOCK_WAIT: MigrationLockWait = { lockTimeoutMs: 3_000, giveUpAfterMs: 15 * 60_000 };
const isPgKnex = (knex: Knex) => /^(pg|postgres)/.test(String(knex.client.config.client));

/**
 * An ALTER TABLE waiting for its lock behind a long transaction (a report, a stuck session) makes every later
 * statement on that table queue behind it: during a rolling deploy the running nodes stop answering anything
 * that touches the table until that transaction ends. Each migration's transaction therefore waits for a lock at
 * most lockTimeoutMs, so the queue drains, and is tried again until giveUpAfterMs; then the node stops saying
 * which migration waited. Migrations outside a transaction only build indexes CONCURRENTLY, which block no one.
 */
async function migratePgWithLockTimeout(knex: Knex, log: Logger | undefined, { lockTimeoutMs, giveUpAfterMs }: MigrationLockWait): Promise<void> {
  let running = '';
  const source: Knex.MigrationSource<string> = {
    getMigrations: () => migrationSource.getMigrations([]),
    getMigrationName: (name) => name,
    getMigration: async (name) => {
      const m = migrations[name]!;
      if (m.config?.transaction === false) return m;
      return {
        ...m,
        up: async (trx: Knex) => {
          running = name;
          await trx.raw(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`);
          await m.up(trx);
        },
      };
    },
  };
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return void (await knex.migrate.latest({ migrationSource: source }));
    } catch (err) {
      if ((err as { code?: string }).code !== '55P03') throw err;
      const waited = Date.now() - started;
      if (waited >= giveUpAfterMs) {
        throw new Error(
          `database migration ${running} could not lock its table for ${Math.round(waited / 1000)} s: another transaction holds it (look for old transactions in pg_stat_activity), then start the node again`,
        );
      }
      if (attempt === 1 || attempt % 10 === 0) {
        log?.warn('a database migration waits for a table lock that another transaction holds; trying again', { migration: running, attempt, waitedMs: waited });
      }
      await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
    }
  }
}

const KNEX_LOCK_TABLE = 'knex_migrations_lock';
export const MIGRATION_LEASE_TABLE = 'mcube_migration_lease';
/** how long a lease lasts unless renewed: the longest a dead migrating node holds the others back */
const MIGRATION_LEASE_MS = 60_000;
const MIGRATION_LEASE_RENEW_MS = 10_000;
const MIGRATION_LEASE_POLL_MS = 250;

async function takeMigrationLease(knex: Knex, log: Logger | undefined): Promise<() => Promise<void>> {
  // outside the migrations, which it guards; two nodes creating it at once: one of them gets an error, then finds it
  for (let attempt = 0; !(await knex.schema.hasTable(MIGRATION_LEASE_TABLE)); attempt++) {
    try {
      await knex.schema.createTable(MIGRATION_LEASE_TABLE, (t) => {
        t.integer('id').primary();
        t.string('holder', 200).notNullable();
        t.bigInteger('expires_at').notNullable();
      });
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  const holder = `${hostname()} ${process.pid} ${randomUUID()}`;
  let told = false;
  for (;;) {
    const now = Date.now();
    await knex.raw(
      `INSERT INTO ${MIGRATION_LEASE_TABLE} (id, holder, expires_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at WHERE ${MIGRATION_LEASE_TABLE}.expires_at < ?`,
      [holder, now + MIGRATION_LEASE_MS, now],
    );
    const row = await knex(MIGRATION_LEASE_TABLE).where({ id: 1 }).first('holder', 'expires_at');
    if (row?.holder === holder) break;
    if (!told) {
      told = true;
      log?.info('waiting for another node to finish the database migrations', { holder: row?.holder, leaseEndsAt: new Date(num(row?.expires_at)).toISOString() });
    }
    await new Promise((r) => setTimeout(r, MIGRATION_LEASE_POLL_MS));
  }
  const renew = setInterval(() => {
    knex(MIGRATION_LEASE_TABLE)
      .where({ id: 1, holder })
      .update({ expires_at: Date.now() + MIGRATION_LEASE_MS })
      .catch((e: Error) => log?.warn('could not renew the migration lease', { error: e.message }));
  }, MIGRATION_LEASE_RENEW_MS);
  renew.unref();
  return async () => {
    clearInterval(renew);
    await knex(MIGRATION_LEASE_TABLE).where({ id: 1, holder }).delete();
  };
}

/** Numbers from pg bigint/count come back as strings; every read goes through this. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return 0;
}
