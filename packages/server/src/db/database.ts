import knexFactory, { type Knex } from 'knex';
import { join } from 'node:path';
import { migrationSource } from '../../../../migrations/index.js';
import type { Config } from '../config.js';

export type Db = Knex;

export interface Database {
  knex: Knex;
  dialect: 'sqlite' | 'pg';
  /** an error code that means "unique constraint violated" */
  isUniqueViolation(err: unknown): boolean;
  close(): Promise<void>;
}

/** Opens the configured database and brings its schema up to date. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dbSchema' | 'dataDir'>): Promise<Database> {
  let knex: Knex;
  let dialect: Database['dialect'];
  if (config.databaseUrl) {
    dialect = 'pg';
    const schema = config.dbSchema;
    knex = knexFactory({
      client: 'pg',
      connection: config.databaseUrl,
      searchPath: schema ? [schema] : undefined,
      pool: {
        min: 0,
        max: 10,
        // bigint (int8) and numeric come back as strings from pg; ours stay below 2^53.
        afterCreate: (conn: { query: (sql: string, cb: (err: Error | null) => void) => void }, done: (err: Error | null, c: unknown) => void) =>
          done(null, conn),
      },
    });
    if (schema) await knex.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
  } else {
    dialect = 'sqlite';
    knex = knexFactory({
      client: 'better-sqlite3',
      connection: { filename: join(config.dataDir, 'mcube.sqlite') },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: { pragma: (s: string) => unknown; prepare: (sql: string) => unknown }, done: (err: Error | null, c: unknown) => void) => {
          // knex prepares every statement anew; better-sqlite3 statements are reusable, so keep them.
          const prepare = conn.prepare.bind(conn);
          const cache = new Map<string, unknown>();
          conn.prepare = (sql: string) => {
            let st = cache.get(sql);
            if (st === undefined) {
              // Take the write lock when a transaction starts: a deferred one that reads first and writes
              // later fails with SQLITE_BUSY (no busy wait) when another process wrote in between.
              st = prepare(sql === 'BEGIN;' ? 'BEGIN IMMEDIATE;' : sql);
              if (cache.size >= 500) cache.delete(cache.keys().next().value!);
              cache.set(sql, st);
            }
            return st;
          };
          // WAL + busy timeout so several processes can share one file.
          conn.pragma('journal_mode = WAL');
          conn.pragma('busy_timeout = 10000');
          conn.pragma('synchronous = NORMAL');
          conn.pragma('foreign_keys = ON');
          done(null, conn);
        },
      },
    });
  }
  await migrate(knex);
  return {
    knex,
    dialect,
    isUniqueViolation: (err) => {
      const e = err as { code?: string; message?: string };
      return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE';
    },
    close: () => knex.destroy(),
  };
}

async function migrate(knex: Knex): Promise<void> {
  // Several nodes may start at once; knex's migration lock makes all but one wait.
  for (let attempt = 0; ; attempt++) {
    try {
      await knex.migrate.latest({ migrationSource });
      return;
    } catch (err) {
      const msg = String((err as Error).message);
      if (attempt < 50 && /lock|already exists|duplicate key|SQLITE_BUSY/i.test(msg)) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        continue;
      }
      throw err;
    }
  }
}

/** Numbers from pg bigint/count come back as strings; every read goes through this. */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') return Number(v);
  if (typeof v === 'bigint') return Number(v);
  return 0;
}
