import { join } from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, utcIn, type Call } from '../helpers/nebula.js';
import { startPeerNode, type ServerProcess } from '../helpers/process.js';
import { makeTestEnv, TEST_CREDS, testPgUrl, type TestEnv, type TestServer } from '../helpers/server.js';
import { androidPackage, createUpgradeTask } from './upgrade-fixtures.js';

/**
 * Two real server processes over one database. Upgrade releases go through
 * node A's RPC actions; node B's /device/upgrade/check must follow them (its
 * stamp watcher hears NOTIFY on PostgreSQL and polls the change stamps). Delays are printed; the
 * assertion bounds them generously, as timing varies on shared machines.
 */
const VISIBLE_WITHIN_MS = 10_000;

let env: TestEnv;
let a: ServerProcess;
let b: ServerProcess;
let call: Call;
let db: Knex;

async function check(node: ServerProcess, userId: string, client = '1.0.0'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${node.url}/device/upgrade/check`, {
    method: 'POST',
    headers: { 'x-mcube-client-key': TEST_CREDS.clientKey, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ platform: 'android', client, userId }).toString(),
  });
  return { status: res.status, body: JSON.parse(await res.text()) };
}

/** Polls `node` until the answer satisfies `want`; returns the delay in ms. */
async function visibleOn(node: ServerProcess, userId: string, want: (body: any) => boolean): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const res = await check(node, userId);
    if (res.status === 200 && want(res.body)) return performance.now() - t0;
    if (performance.now() - t0 > VISIBLE_WITHIN_MS) throw new Error(`not visible within ${VISIBLE_WITHIN_MS} ms; last answer ${JSON.stringify(res.body)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

beforeAll(async () => {
  env = makeTestEnv({ MCUBE_DEVICE_RATE_PER_MIN: '100000', MCUBE_JANITOR_INTERVAL_SEC: '0' });
  a = await startPeerNode(env);
  b = await startPeerNode(env);
  call = mcube({ host: a.host, url: a.url, creds: TEST_CREDS } as unknown as TestServer);
  db = env.schema
    ? knexFactory({ client: 'pg', connection: testPgUrl, searchPath: [env.schema], pool: { min: 0, max: 2 } })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: join(env.dataDir, 'mcube.sqlite') }, useNullAsDefault: true });
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await a?.stop();
  await b?.stop();
  await env?.cleanup();
});

describe('upgrade check across two server processes', () => {
  it('a release and a package deletion made on node A reach node B', async () => {
    // node B has built its plans before the change
    expect((await check(b, 'prop')).body).toEqual({ resultCode: 100, resultStatus: 201, upgradeType: 201 });
    const pkg = await androidPackage(call, '5.0.0');
    await createUpgradeTask(call, pkg, { PublishType: 3, UpgradeType: 204 });
    const release = await visibleOn(b, 'prop', (r) => r.resultStatus === 204 && r.newestVersion === '5.0.0');
    expect((await call('DeleteMcubeUpgradeResource', { Id: String(pkg) })).ResultCode).toBe('OK');
    const removed = await visibleOn(b, 'prop', (r) => r.resultStatus === 201);
    console.log(`[upgrade propagation, ${env.schema ? 'postgres' : 'sqlite'}] node A -> node B: release ${release.toFixed(0)} ms, delete ${removed.toFixed(0)} ms`);
  });

  it('400 users over both nodes against a time window of 40: exactly 40 admitted, and they keep it on either node', async () => {
    const pkg = await androidPackage(call, '6.0.0');
    // 2 slots for the users that show each node has the task before the crowd arrives, 40 for the crowd
    const task = await createUpgradeTask(call, pkg, { PublishType: 2, PublishMode: 2, GreyNum: 42, GreyEndtimeData: utcIn(3600_000), UpgradeType: 202 });
    await visibleOn(a, 'warm-a', (r) => r.newestVersion === '6.0.0');
    await visibleOn(b, 'warm-b', (r) => r.newestVersion === '6.0.0');
    const users = Array.from({ length: 400 }, (_, i) => `crowd-${i}`);
    const got = new Map<string, boolean>();
    let next = 0;
    const worker = async () => {
      while (next < users.length) {
        const i = next++;
        const res = await check(i % 2 === 0 ? a : b, users[i]!);
        expect(res.status).toBe(200);
        got.set(users[i]!, res.body.newestVersion === '6.0.0');
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const admitted = users.filter((u) => got.get(u));
    expect(admitted).toHaveLength(40);
    expect(Number((await db('upgrade_tasks').where({ id: task }).first('grey_admitted')).grey_admitted)).toBe(42);
    const rows = await db('upgrade_admissions').where({ task_id: task }).select('user_key');
    expect(new Set(rows.map((r: { user_key: string }) => r.user_key))).toEqual(new Set([...admitted, 'warm-a', 'warm-b']));
    for (const u of admitted) expect((await check(users.indexOf(u) % 2 === 0 ? b : a, u)).body.newestVersion, u).toBe('6.0.0');
    for (const u of users.filter((x) => !got.get(x)).slice(0, 40)) expect((await check(users.indexOf(u) % 2 === 0 ? b : a, u)).body, u).toEqual({ resultCode: 100, resultStatus: 201, upgradeType: 201 });
  });
});
