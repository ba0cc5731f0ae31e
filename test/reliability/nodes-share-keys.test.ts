import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMcubeServer, type McubeServer } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { bootstrap } from '../../packages/server/src/features/tenants/bootstrap.js';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { startPeerNode } from '../helpers/process.js';
import { acs3 } from '../helpers/raw-client.js';
import { makeTestEnv, TEST_CREDS, type TestEnv } from '../helpers/server.js';

/**
 * Two nodes on one database, in this process, so their clocks can differ.
 * Each node batches the nonce and rate-window writes of the calls of one
 * event-loop turn into one statement.
 */
let env: TestEnv;
let x: McubeServer;
let y: McubeServer;
const hosts: string[] = [];
let clock = Date.now();
const keys: Array<{ id: string; secret: string }> = [];
beforeAll(async () => {
  env = makeTestEnv({ MCUBE_TIMESTAMP_SKEW: '5', MCUBE_RATE_LIMIT: '100000', MCUBE_JANITOR_INTERVAL_SEC: '0' });
  const cx = loadConfig(env.env);
  x = await createMcubeServer(cx, { logSink: () => {}, now: () => clock });
  await bootstrap(cx, x.deps.db, x.deps.box);
  hosts.push(`127.0.0.1:${(await x.listen()).port}`);
  // node Y's clock runs 3 s ahead of node X's
  y = await createMcubeServer(loadConfig(env.env), { logSink: () => {}, now: () => clock + 3000 });
  hosts.push(`127.0.0.1:${(await y.listen()).port}`);
  const tenants = new TenantStore(x.deps.db, x.deps.box);
  for (let i = 0; i < 6; i++) {
    const k = await tenants.createAccessKey(TEST_CREDS.tenantId);
    keys.push({ id: k.id, secret: k.secret });
  }
}, 60_000);
afterAll(async () => {
  await x?.close();
  await y?.close();
  await env?.cleanup();
});

const scope = { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId, TenantId: TEST_CREDS.tenantId };
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('nodes sharing AccessKeys', () => {
  it('their batched nonce and rate-window writes never deadlock (PostgreSQL answered 503 for whole batches)', async () => {
    // three server processes besides these two: concurrent batches from five connection pools, sharing six keys
    const peers = await Promise.all([0, 1, 2].map(() => startPeerNode(env)));
    try {
      const targets = peers.map((p) => p.host);
      const codes = new Map<string, number>();
      let n = 0;
      const until = Date.now() + 3000;
      await Promise.all(
        Array.from({ length: 72 }, async (_, w) => {
          for (let i = 0; Date.now() < until; i++) {
            const k = keys[(w * 5 + i) % keys.length]!;
            const r = await acs3({ host: targets[(w + i) % targets.length]!, action: 'QueryMcubeVhost', params: scope, accessKeyId: k.id, secret: k.secret });
            const code = `${r.status} ${r.body?.Code ?? r.body?.ResultCode}`;
            codes.set(code, (codes.get(code) ?? 0) + 1);
            n++;
          }
        }),
      );
      expect(Object.fromEntries(codes)).toEqual({ '200 OK': n });
    } finally {
      for (const p of peers) await p.stop();
    }
  }, 60_000);

  it('a nonce outlives the timestamp window on every node\'s clock: a node whose clock runs ahead does not sweep it while another still accepts the timestamp', async () => {
    clock = Date.now();
    const k = keys[0]!;
    // a client 4.5 s ahead of node X, inside its 5 s window
    const date = iso(clock + 4500);
    const nonce = `skew-${clock}`;
    const call = () => acs3({ host: hosts[0]!, action: 'QueryMcubeVhost', params: scope, accessKeyId: k.id, secret: k.secret, date, nonce });
    expect((await call()).status).toBe(200);
    expect((await call()).body.Code).toBe('SignatureNonceUsed');
    // 7.5 s later: X still accepts the timestamp (3 s off); Y's clock reads 10.5 s and Y sweeps
    clock += 7500;
    await y.background.nonceSweep.runNow();
    const replay = await call();
    expect(replay.body.Code).toBe('SignatureNonceUsed');
  });
});
