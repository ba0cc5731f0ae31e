import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestEnv, type TestEnv } from '../../../../test/helpers/server.js';
import { loadConfig } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';
import { Authenticator } from './auth.js';
import type { Deps } from './registry.js';

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

const count = async (table: string) => Number(((await db.knex(table).count('* as n').first()) as { n: number | string }).n);

describe('Authenticator.sweep', () => {
  it('deletes every expired nonce and old rate window in chunks, and nothing that is still live', async () => {
    const now = 10_000_000;
    const rows = (n: number, expiresAt: number, tag: string) => Array.from({ length: n }, (_, i) => ({ key_id: 'k', nonce: `${tag}-${i}`, expires_at: expiresAt }));
    for (const batch of [rows(400, now - 1, 'old-a'), rows(400, now - 500_000, 'old-b'), rows(2, now + 1, 'live')]) await db.knex('request_nonces').insert(batch);
    await db.knex('rate_windows').insert([
      { key_id: 'k', window_start: now - 120_000, count: 3 },
      { key_id: 'k', window_start: now - 61_000, count: 3 },
      { key_id: 'k', window_start: now - 1000, count: 3 },
    ]);
    const auth = new Authenticator({ db, config: loadConfig(env.env), now: () => now } as unknown as Deps);
    await auth.sweep(150); // 800 expired rows: several full chunks and a partial one
    expect(await count('request_nonces')).toBe(2);
    expect((await db.knex('request_nonces').pluck('nonce')).sort()).toEqual(['live-0', 'live-1']);
    expect((await db.knex('rate_windows').pluck('window_start')).map(Number)).toEqual([now - 1000]);
  });

  it('stops between two chunks once its signal is aborted (the node is stopping)', async () => {
    const now = 20_000_000;
    await db.knex('request_nonces').del();
    await db.knex('request_nonces').insert(Array.from({ length: 500 }, (_, i) => ({ key_id: 'k', nonce: `stop-${i}`, expires_at: now - 1 })));
    const auth = new Authenticator({ db, config: loadConfig(env.env), now: () => now } as unknown as Deps);
    const ac = new AbortController();
    // the first chunk's statement is under way when sweep() returns; the abort lands before the next
    const sweeping = auth.sweep(100, ac.signal);
    ac.abort();
    await sweeping;
    expect(await count('request_nonces')).toBe(400);
  });
});
