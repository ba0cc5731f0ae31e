import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, SERVER_MAIN } from '../helpers/process.js';
import { stallBody } from '../helpers/raw-http.js';
import { countRows, makeH5Zip, mcube, uploadFile, type Call } from '../helpers/nebula.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { sendRequest, signAcs3 } from '../helpers/signing.js';
import { makeTestEnv, startTestServer, type TestServer } from '../helpers/server.js';

/**
 * S3 failing rather than refusing: answering 5xx (503 SlowDown is how S3 throttles), or not answering at all.
 * A call that needs it gets a 503 to retry within MCUBE_S3_TIMEOUT_MS (the SDK's default waits for ever), writes
 * nothing, and succeeds when S3 is back. Found by a storage audit with a fault proxy, as this test does it.
 */
type Mode = 'pass' | 'stall' | 'slowdown';
let mode: Mode = 'pass';
/** the S3 client keeps its connections: a new mode holds from the next connection on, so the open ones are cut */
const setMode = (m: Mode) => {
  mode = m;
  for (const s of held) s.destroy();
};
let s3: RunningS3rver;
let proxy: Server;
let proxyUrl: string;
const held = new Set<Socket>();
const SLOWDOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

function startProxy(target: URL): Promise<void> {
  proxy = createServer((client) => {
    held.add(client);
    client.on('close', () => held.delete(client));
    client.on('error', () => {});
    if (mode === 'stall') return void client.resume();
    if (mode === 'slowdown') {
      client.once('data', () =>
        client.end(`HTTP/1.1 503 Slow Down\r\ncontent-type: application/xml\r\ncontent-length: ${SLOWDOWN.length}\r\nconnection: close\r\n\r\n${SLOWDOWN}`),
      );
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
}

let srv: TestServer;
let call: Call;
let fileUrl: string;
const h5Id = '27182818';
beforeAll(async () => {
  s3 = await startS3rver();
  await startProxy(new URL(s3.endpoint));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  srv = await startTestServer({ ...s3.env, MCUBE_S3_ENDPOINT: proxyUrl, MCUBE_S3_TIMEOUT_MS: '300', MCUBE_BODY_TIMEOUT_MS: '1000' });
  call = mcube(srv);
  await call('CreateMcubeVhost', { Vhost: 'h5app.com' });
  expect((await call('CreateMcubeNebulaApp', { H5Id: h5Id, H5Name: 'outage' })).ResultCode).toBe('OK');
  fileUrl = await uploadFile(call, `${h5Id}.zip`, await makeH5Zip(h5Id));
}, 60_000);
afterAll(async () => {
  setMode('pass');
  await srv?.close();
  await new Promise((r) => proxy?.close(r));
  await s3?.close();
});

const create = () =>
  sendRequest(
    srv.host,
    signAcs3({ host: srv.host, accessKeyId: srv.creds.accessKeyId, secret: srv.creds.accessKeySecret }, 'CreateMcubeNebulaResource', {
      AppId: srv.creds.appId,
      WorkspaceId: srv.creds.workspaceId,
      TenantId: srv.creds.tenantId,
      H5Id: h5Id,
      H5Name: 'outage',
      H5Version: '1.0.0.0',
      ResourceType: '1',
      Platform: 'all',
      ClientVersionMin: '1.0.0;1.0.0',
      FileUrl: fileUrl,
      MainUrl: '/www/index.html',
      AutoInstall: '1',
      InstallType: '1',
      OnexFlag: 'true',
    }),
    60_000,
  );

describe('S3 failing', () => {
  for (const m of ['slowdown', 'stall'] as const) {
    it(`${m === 'stall' ? 'no answer from S3' : 'S3 answering 503 SlowDown'}: 503 ServiceUnavailable, nothing written`, async () => {
      const before = [await countRows(srv, 'nebula_resources'), await countRows(srv, 'blobs', { state: 'live' })];
      setMode(m);
      const r = await create();
      setMode('pass');
      expect(r.status).toBe(503);
      expect(r.json).toMatchObject({ Code: 'ServiceUnavailable' });
      expect(r.json.RequestId).toMatch(/^[0-9A-F-]{36}$/);
      expect([await countRows(srv, 'nebula_resources'), await countRows(srv, 'blobs', { state: 'live' })]).toEqual(before);
    }, 60_000);
  }

  it('when S3 is back, the same call succeeds', async () => {
    const r = await create();
    expect(r.status).toBe(200);
    expect(r.json.ResultCode).toBe('OK');
  }, 60_000);

  it('the local driver\'s upload paths are unknown ones on S3: a body stalled there closes the connection', async () => {
    for (const target of ['/_storage/upload', '/_storage/obj?x=1']) {
      // MCUBE_BODY_TIMEOUT_MS is 1 s here: closed 2 to 3 s in
      const r = await stallBody(srv.host, `POST ${target} HTTP/1.1`, 4_500);
      expect(r.answer.slice(0, 12), target).toBe('HTTP/1.1 404');
      expect(r.closed, target).toBe(true);
    }
  }, 60_000);

  it('a node whose S3 does not answer at start says so and exits, naming the storage', async () => {
    setMode('stall');
    const env = makeTestEnv();
    try {
      const r = await runCommand(process.execPath, [SERVER_MAIN], { ...env.env, ...s3.env, MCUBE_S3_ENDPOINT: proxyUrl, MCUBE_S3_TIMEOUT_MS: '300', MCUBE_PORT: '0' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`cannot reach the S3 storage at ${proxyUrl} (bucket ${s3.bucket})`);
      expect(r.stderr).not.toContain('PostgreSQL');
    } finally {
      setMode('pass');
      await env.cleanup();
    }
  }, 60_000);
});
