import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../db/database.js';
import { makeTestEnv, type TestEnv } from '../../../../test/helpers/server.js';
import { loadConfig } from '../config.js';
import { NonceBatcher } from './nonce-batcher.js';

let env: TestEnv;
let db: Database;
beforeAll(async () => {
  env = makeTestEnv();
  db = await openDatabase(loadConfig(env.env));
});
afterAll(async () => {
  await db.close();
  await env.cleanup();
});

const fresh = (b: NonceBatcher, k: string, n: string) => b.admit(k, n, 1).then((a) => a.fresh);

describe('NonceBatcher', () => {
  it('admits each nonce once, also when the same nonce arrives twice in one batch', async () => {
    const b = new NonceBatcher(db);
    const results = await Promise.all([fresh(b, 'k1', 'n1'), fresh(b, 'k1', 'n1'), fresh(b, 'k2', 'n1'), fresh(b, 'k1', 'n2')]);
    expect(results).toEqual([true, false, true, true]);
    expect(await fresh(b, 'k1', 'n1')).toBe(false);
  });

  it('a row the database refuses fails only its own request, not the others written with it', async () => {
    const b = new NonceBatcher(db);
    // PostgreSQL refuses a NUL in text; better-sqlite3 refuses to bind an object
    const bad = (db.dialect === 'pg' ? 'bad\u0000nonce' : {}) as string;
    const results = await Promise.allSettled([fresh(b, 'iso', 'ok-1'), fresh(b, 'iso', bad), fresh(b, 'iso', 'ok-2'), fresh(b, 'iso', 'ok-1')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : 'refused'))).toEqual([true, 'refused', true, false]);
    expect(await fresh(b, 'iso', 'ok-2')).toBe(false);
  });

  it('holds across two batchers on one database, as across two nodes', async () => {
    const a = new NonceBatcher(db);
    const b = new NonceBatcher(db);
    const nonces = Array.from({ length: 200 }, (_, i) => `shared-${i}`);
    const results = await Promise.all(nonces.flatMap((n) => [fresh(a, 'k', n), fresh(b, 'k', n)]));
    expect(results.filter(Boolean)).toHaveLength(200);
  });

  it('counts fresh requests in their key and window, one by one across batchers and batches', async () => {
    const a = new NonceBatcher(db);
    const b = new NonceBatcher(db);
    const w = 1_000_000;
    const first = await Promise.all([
      a.admit('rk1', 'x1', 1, w),
      a.admit('rk1', 'x1', 1, w), // replay in the same batch: not counted
      b.admit('rk1', 'x2', 1, w),
      a.admit('rk2', 'x3', 1, w),
      a.admit('rk1', 'x4', 1, null), // rate limiting off: not counted
      b.admit('rk1', 'x5', 1, w + 1000), // next window
    ]);
    expect(first.map((x) => x.fresh)).toEqual([true, false, true, true, true, true]);
    expect([first[1]!.count, first[3]!.count, first[4]!.count, first[5]!.count]).toEqual([0, 1, 0, 1]);
    // the two batchers wrote separately; together they counted 1 and 2 in some order
    expect([first[0]!.count, first[2]!.count].sort()).toEqual([1, 2]);
    const later = await Promise.all([a.admit('rk1', 'x6', 1, w), b.admit('rk1', 'x7', 1, w), a.admit('rk1', 'x8', 1, w)]);
    expect(later.map((x) => x.count).sort()).toEqual([3, 4, 5]);
  });

  it('waits for a knex transaction on the shared connection instead of joining it', async () => {
    const b = new NonceBatcher(db);
    let inside: Promise<{ fresh: boolean }> | undefined;
    await expect(
      db.knex.transaction(async (trx) => {
        await trx('request_nonces').insert({ key_id: 'tx', nonce: 'held', expires_at: 1 });
        inside = b.admit('tx', 'other', 1);
        await new Promise((r) => setTimeout(r, 20));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // the batch did not become part of the rolled-back transaction
    expect((await inside!).fresh).toBe(true);
    expect(await fresh(b, 'tx', 'other')).toBe(false);
    expect(await fresh(b, 'tx', 'held')).toBe(true);
  });
});
