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

describe('NonceBatcher', () => {
  it('admits each nonce once, also when the same nonce arrives twice in one batch', async () => {
    const b = new NonceBatcher(db);
    const results = await Promise.all([b.use('k1', 'n1', 1), b.use('k1', 'n1', 1), b.use('k2', 'n1', 1), b.use('k1', 'n2', 1)]);
    expect(results).toEqual([true, false, true, true]);
    expect(await b.use('k1', 'n1', 1)).toBe(false);
  });

  it('holds across two batchers on one database, as across two nodes', async () => {
    const a = new NonceBatcher(db);
    const b = new NonceBatcher(db);
    const nonces = Array.from({ length: 200 }, (_, i) => `shared-${i}`);
    const results = await Promise.all(nonces.flatMap((n) => [a.use('k', n, 1), b.use('k', n, 1)]));
    expect(results.filter(Boolean)).toHaveLength(200);
  });
});
