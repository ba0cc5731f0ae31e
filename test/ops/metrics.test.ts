import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { startTestServer, testDb, type TestServer } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';

/** GET /metrics: per-node counters in the Prometheus text format. */
const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
async function start(overrides: Record<string, string> = {}) {
  const srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '0', ...overrides });
  servers.push(srv);
  return srv;
}

/** sample lines as `name{labels}` -> value; checks the text format on the way */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  for (const line of text.trimEnd().split('\n')) {
    const t = /^# TYPE ([a-z_]+) (counter|gauge|histogram)$/.exec(line);
    if (t) typed.add(t[1]!);
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP|TYPE) [a-z_]+ \S/);
      continue;
    }
    const m = /^([a-z_]+)(\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.]+(?:e[-+]?[0-9]+)?)$/.exec(line);
    expect(m, line).not.toBeNull();
    expect(typed.has(m![1]!.replace(/_(bucket|sum|count)$/, '')) || typed.has(m![1]!), `${m![1]} has a TYPE line`).toBe(true);
    samples.set(m![1]! + (m![2] ?? ''), Number(m![3]));
  }
  return samples;
}

async function scrape(srv: TestServer, headers: Record<string, string> = {}) {
  const res = await fetch(`${srv.url}/metrics`, { headers });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** device answers are counted when their response closes, which may come a moment after the client has read it */
async function scrapeUntil(srv: TestServer, ok: (m: Map<string, number>) => boolean): Promise<Map<string, number>> {
  const end = Date.now() + 3000;
  for (;;) {
    const m = parse((await scrape(srv)).text);
    if (ok(m) || Date.now() > end) return m;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('GET /metrics', () => {
  it('counts signed calls by action, status and code, and device answers by endpoint and status', async () => {
    const srv = await start();
    const call = openapiCore(srv.host, srv.creds);
    const scope = { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId };
    await call('QueryMcubeVhost', scope);
    await call('QueryMcubeVhost', scope);
    await expect(openapiCore(srv.host, { ...srv.creds, accessKeySecret: 'wrong' })('QueryMcubeVhost', scope)).rejects.toThrow();
    // made-up action names must not become label values (bounded cardinality)
    for (const a of ['NoSuchActionA', 'NoSuchActionB', 'NoSuch"Action\\C']) await expect(call(a, scope)).rejects.toThrow();

    const fields = { platform: 'android', client: '2.0', userId: 'metrics-user', query: queryOf({ '77700001': '' }) };
    expect((await deviceCheck(srv.url, fields, { clientKey: srv.creds.clientKey })).status).toBe(200);
    expect((await deviceCheck(srv.url, fields, { clientKey: srv.creds.clientKey })).status).toBe(200);
    expect((await deviceCheck(srv.url, fields, { keyIn: 'none' })).status).toBe(401);
    const up = await fetch(`${srv.url}/device/upgrade/check?${new URLSearchParams({ platform: 'android', client: '1.0.0', userId: 'metrics-user' })}`, {
      headers: { 'x-mcube-client-key': srv.creds.clientKey },
    });
    expect(up.status).toBe(200);
    await up.text();

    const first = await scrape(srv);
    expect(first.status).toBe(200);
    expect(first.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = await scrapeUntil(srv, (x) => x.get('mcube_device_requests_total{endpoint="upgrade",status="200"}') === 1 && x.get('mcube_device_requests_total{endpoint="nebula",status="401"}') === 1);

    expect(m.get('mcube_rpc_requests_total{action="QueryMcubeVhost",status="200",code="OK"}')).toBe(2);
    expect(m.get('mcube_rpc_requests_total{action="QueryMcubeVhost",status="400",code="SignatureDoesNotMatch"}')).toBe(1);
    expect(m.get('mcube_rpc_requests_total{action="(unknown)",status="404",code="InvalidAction.NotFound"}')).toBe(3);
    expect([...m.keys()].filter((k) => k.includes('NoSuch'))).toEqual([]);
    expect(m.get('mcube_rpc_request_duration_seconds_count{action="QueryMcubeVhost"}')).toBe(3);
    expect(m.get('mcube_rpc_request_duration_seconds_bucket{action="QueryMcubeVhost",le="+Inf"}')).toBe(3);
    expect(m.get('mcube_rpc_request_duration_seconds_bucket{action="QueryMcubeVhost",le="10"}')).toBe(3);

    expect(m.get('mcube_device_requests_total{endpoint="nebula",status="200"}')).toBe(2);
    expect(m.get('mcube_device_requests_total{endpoint="nebula",status="401"}')).toBe(1);
    expect(m.get('mcube_device_requests_total{endpoint="upgrade",status="200"}')).toBe(1);
    expect(m.get('mcube_device_request_duration_seconds_count{endpoint="nebula"}')).toBe(3);
    // buckets are cumulative
    const buckets = [...m].filter(([k]) => k.startsWith('mcube_device_request_duration_seconds_bucket{endpoint="nebula"')).map(([, v]) => v);
    expect(buckets.length).toBeGreaterThan(5);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));

    expect(m.get('mcube_delivery_snapshot_builds_total')).toBeGreaterThanOrEqual(1);
    expect(m.get('mcube_delivery_snapshot_build_failures_total')).toBe(0);
    expect(m.get('mcube_delivery_snapshots')).toBe(1);
    expect(m.get('mcube_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    // the knex pool always; on PostgreSQL also the pool of the per-request statements the signed calls used
    expect(m.get('mcube_db_pool_max_connections{pool="main"}')).toBe(testDb === 'postgres' ? 10 : 1);
    // background work may hold a pool slot at any moment; the next test makes the gauge move on purpose
    expect(m.get('mcube_db_pool_waiting{pool="main"}')).toBeGreaterThanOrEqual(0);
    if (testDb === 'postgres') {
      expect(m.get('mcube_db_pool_max_connections{pool="hot"}')).toBe(4);
      expect(m.get('mcube_db_pool_connections{pool="hot",state="idle"}')).toBeGreaterThanOrEqual(1);
    } else expect([...m.keys()].some((k) => k.includes('pool="hot"'))).toBe(false);
    expect(m.get('mcube_event_loop_delay_seconds{quantile="0.99"}')).toBeGreaterThanOrEqual(0);
    // the sampling interval (20 ms) is not counted as delay: node's raw samples all include it
    await new Promise((r) => setTimeout(r, 300));
    const idle = parse(await (await fetch(`${srv.url}/metrics`)).text());
    expect(idle.get('mcube_event_loop_delay_seconds{quantile="0.5"}')).toBeLessThan(0.02);
  });

  it('the pool gauges count a caller that waits for a connection, and stop counting it once it has one', async () => {
    const srv = await start({ MCUBE_DB_POOL_MAX: '1' });
    const knex = srv.node.deps.db.knex;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding!: () => void;
    const taken = new Promise<void>((r) => (holding = r));
    const tx = knex.transaction(async (trx) => {
      await trx.raw('select 1');
      holding();
      await held;
    });
    await taken;
    // a knex query runs only once it is awaited or then-ed
    const waiter = knex.raw('select 1').then(() => undefined);
    try {
      const busy = await scrapeUntil(srv, (x) => (x.get('mcube_db_pool_waiting{pool="main"}') ?? 0) >= 1);
      expect(busy.get('mcube_db_pool_max_connections{pool="main"}')).toBe(1);
      expect(busy.get('mcube_db_pool_waiting{pool="main"}')).toBeGreaterThanOrEqual(1);
      expect(busy.get('mcube_db_pool_connections{pool="main",state="used"}')).toBe(1);
    } finally {
      release();
      await tx;
      await waiter;
    }
    const calm = await scrapeUntil(srv, (x) => x.get('mcube_db_pool_waiting{pool="main"}') === 0);
    expect(calm.get('mcube_db_pool_waiting{pool="main"}')).toBe(0);
  });

  it('/readyz says the database is out of reach without telling the public why', async () => {
    const srv = await start();
    expect((await fetch(`${srv.url}/readyz`)).status).toBe(200);
    await srv.node.deps.db.knex.destroy();
    const r = await fetch(`${srv.url}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ status: 'unavailable', error: 'database unreachable' });
    expect(srv.logs.some((l) => l.includes('readiness check failed'))).toBe(true);
  });

  it('/readyz answers 503 within about 2 s when the database stops answering (without refusing)', async () => {
    const srv = await start();
    const db = srv.node.deps.db as { knex: unknown };
    const knex = db.knex;
    // a database that takes the probe's query and never answers it, as behind a frozen connection
    db.knex = { raw: () => new Promise(() => {}) };
    try {
      const t0 = Date.now();
      const r = await fetch(`${srv.url}/readyz`);
      expect(r.status).toBe(503);
      // the probe gives up on its own (a hang would end only at the test's timeout)
      expect(Date.now() - t0).toBeLessThan(4000);
      expect(srv.logs.some((l) => l.includes('no answer from the database'))).toBe(true);
    } finally {
      db.knex = knex;
    }
  });

  it('a device that leaves before its answer is not counted as answered', async () => {
    const srv = await start();
    // half a body, then gone: the server never answers this request
    await new Promise<void>((resolve, reject) => {
      const sock = connect(srv.port, '127.0.0.1', () => {
        sock.write(`POST /device/nebula/update HTTP/1.1\r\nhost: x\r\nx-mcube-client-key: ${srv.creds.clientKey}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nplatform=android`);
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 100);
      });
      sock.on('error', reject);
    });
    const fields = { platform: 'android', client: '2.0', userId: 'after-abort', query: queryOf({ '77700001': '' }) };
    expect((await deviceCheck(srv.url, fields, { clientKey: srv.creds.clientKey })).status).toBe(200);
    const m = await scrapeUntil(srv, (x) => x.get('mcube_device_requests_total{endpoint="nebula",status="200"}') === 1);
    expect(m.get('mcube_device_requests_total{endpoint="nebula",status="200"}')).toBe(1);
    expect(m.get('mcube_device_request_duration_seconds_count{endpoint="nebula"}')).toBe(1);
  });

  it('with MCUBE_METRICS_TOKEN: 401 without the bearer token or with another, 200 with it', async () => {
    const srv = await start({ MCUBE_METRICS_TOKEN: 'scrape-secret-1' });
    const none = await scrape(srv);
    expect(none.status).toBe(401);
    expect(none.text).not.toContain('mcube_');
    expect((await scrape(srv, { authorization: 'Bearer scrape-secret-2' })).status).toBe(401);
    const ok = await scrape(srv, { authorization: 'Bearer scrape-secret-1' });
    expect(ok.status).toBe(200);
    expect(parse(ok.text).get('mcube_delivery_snapshot_builds_total')).toBe(0);
  });

  it('MCUBE_METRICS=off: no such endpoint', async () => {
    const srv = await start({ MCUBE_METRICS: 'off' });
    const r = await scrape(srv);
    expect(r.status).toBe(404);
    expect(r.text).not.toContain('mcube_');
  });
});
