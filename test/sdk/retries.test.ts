import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { McubeClient, McubeServerError, McubeThrottlingError, type RetryEvent } from '../../packages/sdk/src/index.js';
import { MAX_ANSWER_BYTES } from '../../packages/sdk/src/transport.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A loopback proxy in front of the test server: answers the first `failures`
 * requests itself (a 5xx, or 429 with x-acs-retry-after), forwards the rest
 * unchanged (Host included, so signatures still verify), and records what came in.
 */
interface Plan {
  failures: number;
  status: number;
  retryAfter?: string;
}
let plan: Plan = { failures: 0, status: 503 };
let seen: Array<{ nonce: string; date: string; action: string }> = [];

let srv: TestServer;
let gateway: Gateway;
let proxyUrl: string;

beforeAll(async () => {
  srv = await startTestServer();
  gateway = await startGateway(srv.port, (req, res) => {
    seen.push({
      nonce: String(req.headers['x-acs-signature-nonce']),
      date: String(req.headers['x-acs-date']),
      action: String(req.headers['x-acs-action']),
    });
    if (seen.length > plan.failures) return false;
    req.resume();
    const body = JSON.stringify({ RequestId: `PROXY-${seen.length}`, HostId: 'proxy', Code: plan.status === 429 ? 'Throttling.User' : 'ServiceUnavailable', Message: 'injected' });
    res.writeHead(plan.status, { 'content-type': 'application/json', ...(plan.retryAfter ? { 'x-acs-retry-after': plan.retryAfter } : {}) });
    res.end(body);
    return true;
  });
  proxyUrl = gateway.url;
});
afterAll(async () => {
  await gateway?.close();
  await srv?.close();
});
beforeEach(() => {
  seen = [];
});

const client = (retries: RetryEvent[], retry: Record<string, number> = {}) =>
  new McubeClient({
    endpoint: proxyUrl,
    accessKeyId: srv.creds.accessKeyId,
    accessKeySecret: srv.creds.accessKeySecret,
    appId: srv.creds.appId,
    workspaceId: srv.creds.workspaceId,
    env: {},
    retry: { baseDelayMs: 5, ...retry },
    onRetry: (e) => retries.push(e),
  });

describe('retries', () => {
  it('repeats a call after 503 answers, each attempt freshly signed', async () => {
    plan = { failures: 2, status: 503 };
    const retries: RetryEvent[] = [];
    const r = await client(retries).queryMcubeVhost({});
    expect(r.resultCode).toBe('OK');
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.nonce)).size).toBe(3);
    expect(seen.every((s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(s.date))).toBe(true);
    expect(retries.map((e) => [e.attempt, e.error.name])).toEqual([
      [1, 'McubeServerError'],
      [2, 'McubeServerError'],
    ]);
  });

  it('honours x-acs-retry-after on throttling', async () => {
    plan = { failures: 1, status: 429, retryAfter: '1' };
    const retries: RetryEvent[] = [];
    const r = await client(retries).createMcubeVhost({ vhost: 'retry.h5app.com' });
    expect(r.createVhostResult.success).toBe(true);
    expect(seen).toHaveLength(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.error).toBeInstanceOf(McubeThrottlingError);
    expect(retries[0]!.delayMs).toBeGreaterThanOrEqual(1000);
  });

  it('gives up with McubeThrottlingError when the server asks to wait longer than allowed', async () => {
    plan = { failures: 5, status: 429, retryAfter: '60' };
    const err = await client([]).queryMcubeVhost({}).catch((e) => e);
    expect(err).toBeInstanceOf(McubeThrottlingError);
    expect(err).toMatchObject({ code: 'Throttling.User', retryAfter: 60, statusCode: 429, requestId: 'PROXY-1' });
    expect(seen).toHaveLength(1);
  });

  it('stops after maxAttempts with the last McubeServerError', async () => {
    plan = { failures: 10, status: 503 };
    const err = await client([], { maxAttempts: 4 }).queryMcubeVhost({}).catch((e) => e);
    expect(err).toBeInstanceOf(McubeServerError);
    expect(err).toMatchObject({ code: 'ServiceUnavailable', statusCode: 503, requestId: 'PROXY-4' });
    expect(seen).toHaveLength(4);
  });

  it.each([500, 502, 503, 504])('does not repeat a state-changing call after a %i (a balancer gives it also when a node went away after committing)', async (status) => {
    plan = { failures: 10, status };
    const err = await client([]).createMcubeVhost({ vhost: 'x.h5app.com' }).catch((e) => e);
    expect(err).toMatchObject({ name: 'McubeServerError', statusCode: status });
    expect(seen).toHaveLength(1);
    seen = [];
    await client([], { maxAttempts: 2 }).queryMcubeVhost({}).catch((e) => e);
    expect(seen).toHaveLength(2);
  });

  it('a 5xx that carries x-acs-retry-after is a server error, not throttling: a state-changing call is not repeated', async () => {
    plan = { failures: 10, status: 503, retryAfter: '1' };
    const err = await client([]).createMcubeVhost({ vhost: 'y.h5app.com' }).catch((e) => e);
    expect(err).toBeInstanceOf(McubeServerError);
    expect(err).not.toBeInstanceOf(McubeThrottlingError);
    expect(seen).toHaveLength(1);
  });

  it('refuses a timeout a timer cannot hold (not whole milliseconds from 1 to 2^31 - 1)', async () => {
    for (const timeoutMs of [0, 0.5, 2 ** 31, Infinity, Number.NaN]) {
      expect(() => new McubeClient({ endpoint: proxyUrl, accessKeyId: 'a', accessKeySecret: 'b', env: {}, timeoutMs }), String(timeoutMs)).toThrow(/timeoutMs/);
    }
    const c = new McubeClient({ endpoint: proxyUrl, accessKeyId: 'a', accessKeySecret: 'b', appId: 'A', workspaceId: 'w', env: {} });
    await expect(c.queryMcubeVhost({}, { timeoutMs: 2 ** 31 })).rejects.toThrow(/timeoutMs/);
    expect(seen).toHaveLength(0);
  });

  it('refuses an answer larger than MAX_ANSWER_BYTES without downloading it again (not an OpenAPI answer)', async () => {
    let hits = 0;
    const big = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      // chunked, no length to refuse it by: counted as it arrives
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const more = () => {
        while (sent <= MAX_ANSWER_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end('{}');
      };
      more();
      res.on('error', () => {});
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    try {
      const c = new McubeClient({ endpoint: `http://127.0.0.1:${(big.address() as AddressInfo).port}`, accessKeyId: 'a', accessKeySecret: 'b', appId: 'A', workspaceId: 'w', env: {} });
      const err = await c.queryMcubeVhost({}).catch((e) => e);
      expect(err).toMatchObject({ code: 'InvalidResponse', message: expect.stringContaining(`larger than ${MAX_ANSWER_BYTES} bytes`) });
      expect(hits).toBe(1);
    } finally {
      big.closeAllConnections();
      await new Promise((r) => big.close(r));
    }
  });

  it('takes a switch-key export larger than that cap (a workspace at the server\'s limits exports over 80 MB)', async () => {
    // a valid answer whose export is past MAX_ANSWER_BYTES: 65 values of 1 MiB
    const value = 'v'.repeat(1024 * 1024);
    const big = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"RequestId":"r","ResultCode":"OK","ExportSwitchConfigResult":{"Success":true,"ResultMsg":"","Content":"[');
      let i = 0;
      const more = () => {
        while (i < 65) {
          if (!res.write(`${i++ ? ',' : ''}{\\"Value\\":\\"${value}\\"}`)) return void res.once('drain', more);
        }
        res.end(']"}}');
      };
      more();
      res.on('error', () => {});
    });
    await new Promise<void>((r) => big.listen(0, '127.0.0.1', r));
    try {
      const c = new McubeClient({ endpoint: `http://127.0.0.1:${(big.address() as AddressInfo).port}`, accessKeyId: 'a', accessKeySecret: 'b', appId: 'A', workspaceId: 'w', env: {} });
      const r = await c.callRaw('ExportMcubeSwitchConfigs', {});
      expect(r.body.ResultCode).toBe('OK');
      expect(JSON.stringify(r.body).length).toBeGreaterThan(MAX_ANSWER_BYTES);
    } finally {
      big.closeAllConnections();
      await new Promise((r) => big.close(r));
    }
  });

  it('retry: false makes a single attempt', async () => {
    plan = { failures: 10, status: 503 };
    const c = new McubeClient({ endpoint: proxyUrl, accessKeyId: 'a', accessKeySecret: 'b', appId: 'A', workspaceId: 'w', env: {}, retry: false });
    await expect(c.queryMcubeVhost({})).rejects.toBeInstanceOf(McubeServerError);
    expect(seen).toHaveLength(1);
  });
});
