import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveUploadedObject } from '../../packages/server/src/features/storage/index.js';
import { exchange, stallBody } from '../helpers/raw-http.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import type { FileToken } from '../helpers/upload.js';
import { openapiCore } from '../helpers/vendor-clients.js';

/**
 * Bodies are bounded where they are read, not by one limit on the whole request: an upload to the local
 * driver may take as long as it keeps sending (node's requestTimeout had cut steady uploads at
 * MCUBE_BODY_TIMEOUT_MS + 5 s), a stalled one is cut after MCUBE_BODY_TIMEOUT_MS without a byte, and a body
 * nobody reads (a health check's) must still arrive within MCUBE_BODY_TIMEOUT_MS.
 */
const BODY_TIMEOUT_MS = 1000;
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) });
});
afterAll(async () => {
  await srv?.close();
});

const token = async (): Promise<FileToken> => {
  const r = await openapiCore(srv.host, srv.creds)('GetMcubeFileToken', { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId, OnexFlag: true });
  return r.body.GetFileTokenResult.FileToken;
};

/** The upload form as one request, cut into `n` pieces of the file part. */
function uploadRequest(t: FileToken, filename: string, data: Buffer, n: number): { head: Buffer; pieces: Buffer[]; tail: Buffer } {
  const boundary = '----mcube' + randomBytes(8).toString('hex');
  let fields = '';
  for (const [k, v] of Object.entries(t.FormFields)) fields += `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${k === 'key' ? v.split('${filename}').join(filename) : v}\r\n`;
  const fileHead = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${filename}"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const length = Buffer.byteLength(fields) + Buffer.byteLength(fileHead) + data.length + tail.length;
  const url = new URL(t.Host);
  const head = Buffer.from(`POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${length}\r\n\r\n${fields}${fileHead}`);
  const size = Math.ceil(data.length / n);
  const pieces = Array.from({ length: n }, (_, i) => data.subarray(i * size, (i + 1) * size));
  return { head, pieces, tail };
}

const tempFiles = () => readdirSync(join(srv.env.env.MCUBE_DATA_DIR!, 'blobs', '.tmp')).length;

describe('slow bodies', () => {
  it('an upload that keeps sending for longer than MCUBE_BODY_TIMEOUT_MS + 5 s is stored', async () => {
    const data = randomBytes(30 * 1024);
    const { head, pieces, tail } = uploadRequest(await token(), 'slow.zip', data, 28);
    // a piece every 250 ms (a quarter of the idle limit): 7 s in all, past the 6 s node's requestTimeout allowed
    const r = await exchange(srv.host, { parts: [{ bytes: head }, ...pieces.map((bytes) => ({ bytes, pauseMs: 250 })), { bytes: tail }], timeoutMs: 30_000 });
    expect(r.status).toBeGreaterThanOrEqual(200);
    expect(r.status).toBeLessThan(300);
    const ctx = { requestId: 'test', tenantId: srv.creds.tenantId, accessKeyId: srv.creds.accessKeyId, appId: srv.creds.appId, workspaceId: srv.creds.workspaceId, deps: srv.node.deps };
    expect(await resolveUploadedObject(srv.node.deps, ctx, r.headers.location!, {})).toMatchObject({ size: data.length });
  }, 60_000);

  it('a form that never reaches its signed file part gets MCUBE_BODY_TIMEOUT_MS in all, however it trickles', async () => {
    const head = Buffer.from(`POST /_storage/upload HTTP/1.1\r\nhost: ${srv.host}\r\ncontent-type: multipart/form-data; boundary=BB\r\ncontent-length: 100000\r\n\r\n--BB\r\ncontent-disposition: form-data; name="key"\r\n\r\n`);
    // a byte every 300 ms, for up to 12 s: never idle for the 1 s limit
    const drip = Array.from({ length: 40 }, () => ({ bytes: Buffer.from('k'), pauseMs: 300 }));
    // given up at 8 s: before the drip ends, where an idle limit alone would answer
    const r = await exchange(srv.host, { parts: [{ bytes: head }, ...drip], timeoutMs: 8_000 });
    expect(r.status).toBe(400);
    expect(r.body.toString()).toContain('<Code>RequestTimeout</Code>');
    expect(r.timedOut).toBe(false);
  }, 60_000);

  it('an upload that stops sending is refused with RequestTimeout, and its temp file removed', async () => {
    const { head, pieces, tail } = uploadRequest(await token(), 'stalled.zip', randomBytes(8 * 1024), 2);
    const r = await exchange(srv.host, { parts: [{ bytes: Buffer.concat([head, pieces[0]!]) }, { bytes: Buffer.concat([pieces[1]!, tail]), pauseMs: 20_000 }], timeoutMs: 15_000 });
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(400);
    expect(r.body.toString()).toContain('<Code>RequestTimeout</Code>');
    expect(tempFiles()).toBe(0);
  }, 60_000);

  it('a body that stalls, read or not (a health check\'s, a device check\'s, an OpenAPI call refused for its method): the connection is closed', async () => {
    const cases = [
      ['POST /healthz HTTP/1.1', 200],
      ['PUT / HTTP/1.1', 405],
      ['POST /no/such/path HTTP/1.1', 404],
      ['POST /device/no/such/endpoint HTTP/1.1', 404],
      // a device check waits for its body (closed without an answer); a GET's is not read: answered, then closed
      ['POST /device/nebula/update HTTP/1.1', null],
      ['GET /device/nebula/update?platform=android HTTP/1.1', 401],
      // the download gate reads its form with a deadline, and says so when it does not come
      ['POST /download/1.AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1', 408],
    ] as const;
    for (const [head, status] of cases) {
      // closed 2 to 3 s in (MCUBE_BODY_TIMEOUT_MS, 1 s, and a second for a route's own 408), before node's timers (6 s here)
      const closed = await stallBody(srv.host, head, 4_500, '0123456789');
      expect(closed.answer.slice(0, 12), head).toBe(status === null ? '' : `HTTP/1.1 ${status}`);
      expect(closed.closed, head).toBe(true);
    }
  }, 60_000);
});
