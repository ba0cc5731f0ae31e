import { afterEach, describe, expect, it } from 'vitest';
import { makeTestEnv, testDb, type TestEnv } from '../../../../test/helpers/server.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../core/logger.js';
import { openDatabase, type Database } from './database.js';

/**
 * db.all() runs the signed-call path's statements (nonces, rate windows,
 * keys, vhosts). It keeps them prepared: better-sqlite3 statements on SQLite,
 * named prepared statements on PostgreSQL (db/pg-statements.ts). A prepared
 * statement must not break when another node's migration changes its table,
 * nor behind a pooler that loses prepared statements between calls.
 */
const pg = testDb === 'postgres';
const opened: Array<{ db: Database; env: TestEnv }> = [];

async function open(overrides: Record<string, string> = {}, shareWith?: TestEnv) {
  const env = shareWith ?? makeTestEnv(overrides);
  const warnings: string[] = [];
  const log = createLogger('warn', (line) => warnings.push(line));
  const db = await openDatabase(loadConfig({ ...env.env, ...overrides }), { serverLog: log });
  opened.push({ db, env });
  return { db, env, warnings };
}

afterEach(async () => {
  const envs = new Set<TestEnv>();
  for (const o of opened.splice(0)) {
    await o.db.close();
    envs.add(o.env);
  }
  for (const e of envs) await e.cleanup();
});

const prepared = (db: Database) => db.all<{ statement: string }>('SELECT statement FROM pg_prepared_statements').then((r) => r.map((x) => x.statement));

describe('db.all(): prepared statements and connection pools', () => {
  it('keep answering after another node migrates their table', async () => {
    const { db, env } = await open();
    // "another node": its own connections to the same database
    const { db: other } = await open({}, env);
    await other.knex.schema.createTable('hot_t', (t) => t.integer('a'));
    await other.knex('hot_t').insert({ a: 1 });
    expect(await db.all('SELECT * FROM hot_t WHERE a = ?', [1])).toEqual([{ a: 1 }]);
    if (pg) expect(await prepared(db)).toContain('SELECT * FROM hot_t WHERE a = $1');

    await other.knex.schema.alterTable('hot_t', (t) => t.integer('b').defaultTo(7));
    // PostgreSQL refuses the old plan ("cached plan must not change result type"): renamed and prepared again
    expect(await db.all('SELECT * FROM hot_t WHERE a = ?', [1])).toEqual([{ a: 1, b: 7 }]);
    expect(await db.all('SELECT * FROM hot_t WHERE a = ?', [1])).toEqual([{ a: 1, b: 7 }]);
  });

  it(pg ? 'behind a pooler that loses them: one warning, then unnamed statements' : 'SQLite: a statement runs again with new values', async () => {
    const { db, warnings } = await open();
    await db.knex.schema.createTable('hot_u', (t) => t.integer('a'));
    await db.knex('hot_u').insert([{ a: 1 }, { a: 2 }]);
    const q = 'SELECT a FROM hot_u WHERE a >= ? ORDER BY a';
    expect(await db.all(q, [1])).toEqual([{ a: 1 }, { a: 2 }]);
    if (pg) {
      // What a transaction-mode pooler does: the next call lands on a server connection without the statement.
      // Calls run one at a time here, so they share one pooled connection.
      await db.all('DEALLOCATE ALL');
      expect(await db.all(q, [2])).toEqual([{ a: 2 }]);
      expect(warnings.filter((l) => l.includes('prepared statements'))).toHaveLength(1);
      expect(await prepared(db)).toEqual([]);
      expect(await db.all(q, [1])).toEqual([{ a: 1 }, { a: 2 }]);
      expect(warnings).toHaveLength(1);
    } else {
      expect(await db.all(q, [2])).toEqual([{ a: 2 }]);
      expect(warnings).toEqual([]);
    }
  });

  it(pg ? 'MCUBE_DB_POOL_MAX and MCUBE_DB_HOT_POOL_MAX size the two pools' : 'SQLite: one connection, whatever MCUBE_DB_POOL_MAX says', async () => {
    const { db } = await open({ MCUBE_DB_POOL_MAX: '3', MCUBE_DB_HOT_POOL_MAX: '2' });
    // more concurrent statements than the hot pool has connections: the rest wait their turn
    await Promise.all(Array.from({ length: 6 }, () => db.all(pg ? 'SELECT pg_sleep(0.05)' : 'SELECT 1')));
    const stats = Object.fromEntries(db.poolStats().map((p) => [p.pool, p]));
    expect(stats.main!.max).toBe(pg ? 3 : 1);
    if (pg) {
      expect(stats.hot!.max).toBe(2);
      expect(stats.hot!.used + stats.hot!.idle).toBe(2);
      expect(stats.hot!.waiting).toBe(0);
    } else expect(stats.hot).toBeUndefined();
  });

  it(pg ? 'MCUBE_DB_PREPARED_STATEMENTS=off: no named statements' : 'SQLite: MCUBE_DB_PREPARED_STATEMENTS=off changes nothing', async () => {
    const { db } = await open({ MCUBE_DB_PREPARED_STATEMENTS: 'off' });
    await db.knex.schema.createTable('hot_v', (t) => t.integer('a'));
    await db.knex('hot_v').insert({ a: 3 });
    expect(await db.all('SELECT a FROM hot_v WHERE a = ?', [3])).toEqual([{ a: 3 }]);
    if (pg) expect(await prepared(db)).toEqual([]);
  });
});
