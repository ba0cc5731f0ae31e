import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import knexFactory from 'knex';
import { join } from 'node:path';
import { runJanitor } from '../../packages/server/src/features/janitor/index.js';
import { handBack } from '../../packages/server/src/core/hand-back.js';
import { startTestServer, testDb, testPgUrl, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  // the node itself was closed by the test
  await srv.env.cleanup();
});

/** A connection of its own to the node's database, to look at it after the node closed its own. */
function openAgain() {
  return testDb === 'postgres'
    ? knexFactory({ client: 'pg', connection: testPgUrl, searchPath: [srv.env.env.MCUBE_DB_SCHEMA!], pool: { min: 0, max: 1 } })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: join(srv.env.dataDir, 'mcube.sqlite') }, useNullAsDefault: true });
}

describe('shutdown with background jobs running', () => {
  it('a janitor run of a stopping node ends before its next object or chunk', async () => {
    const { deps } = srv.node;
    const { knex } = deps.db;
    const now = Date.now();
    await knex('audit_log').insert({ request_id: 'shutdown-old', tenant_id: 'TENANT01', access_key_id: 'MCAKSHUT', action: 'CreateMcubeVhost', params: '{}', http_status: 200, result_code: 'OK', created_at: now - 100 * 86_400_000 });
    await knex('blobs').insert({ key: 'pkg/shutdown/gone.amr', app_id: 'ALIPUB0000001', workspace_id: 'default', state: 'deleted', created_at: now });
    const withRetention = { ...deps, config: { ...deps.config, janitor: { ...deps.config.janitor, auditRetentionDays: 30 } } };
    const ac = new AbortController();
    ac.abort();
    const stopped = await runJanitor(withRetention, ac.signal);
    expect(stopped).toEqual({ pendingSwept: 0, deletedSwept: 0, orphansSwept: 0, uploadsSwept: 0, tempSwept: 0, auditSwept: 0 });
    expect(await knex('audit_log').where({ request_id: 'shutdown-old' }).first()).toBeDefined();
    expect(await knex('blobs').where({ key: 'pkg/shutdown/gone.amr' }).first()).toBeDefined();
    // the same run not stopped sweeps both
    const ran = await runJanitor(withRetention);
    expect(ran.auditSwept).toBeGreaterThanOrEqual(1);
    expect(ran.deletedSwept).toBeGreaterThanOrEqual(1);
    expect(await knex('audit_log').where({ request_id: 'shutdown-old' }).first()).toBeUndefined();
    expect(await knex('blobs').where({ key: 'pkg/shutdown/gone.amr' }).first()).toBeUndefined();
  });

  it('a stopping node ends its nonce sweep between two chunks and closes the database after it, with no failure logged', async () => {
    const { node } = srv;
    const { knex } = node.deps.db;
    const expired = Date.now() - 3_600_000;
    // 60,000 expired nonces: 30 chunks, so the sweep is still running (on SQLite sleeping in its checkpoint pause) when the node stops
    await knex.batchInsert('request_nonces', Array.from({ length: 60_000 }, (_, i) => ({ key_id: 'MCAKSWEEP', nonce: `n-${i}`, expires_at: expired })), 400);
    const sweeping = node.background.nonceSweep.runNow();
    const left = async () => Number((await knex('request_nonces').where({ key_id: 'MCAKSWEEP' }).count({ n: '*' }))[0]!.n);
    while ((await left()) === 60_000) await handBack();

    await node.close();
    await sweeping;
    expect(srv.logs.filter((l) => l.includes('sweep failed') || l.includes('janitor run failed'))).toEqual([]);
    // it stopped early (the next sweep, on any node, deletes the rest)
    const again = openAgain();
    try {
      const rest = Number((await again('request_nonces').where({ key_id: 'MCAKSWEEP' }).count({ n: '*' }))[0]!.n);
      expect(rest).toBeGreaterThan(0);
      expect(rest).toBeLessThan(60_000);
    } finally {
      await again.destroy();
    }
  });
});
