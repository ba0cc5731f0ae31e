import { randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveUploadedObject } from '../../packages/server/src/features/storage/index.js';
import { McubeClient, McubeNetworkError, McubeUploadError, uploadFile } from '../../packages/sdk/src/index.js';
import { encodeKey, type FileTokenLike } from '../../packages/sdk/src/upload.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const MAX = 4 * 1024 * 1024;

function expectProgress(events: Array<[number, number | undefined]>, total: number) {
  expect(events.length).toBeGreaterThan(1);
  for (let i = 1; i < events.length; i++) expect(events[i]![0]).toBeGreaterThanOrEqual(events[i - 1]![0]);
  expect(events.every(([, t]) => t === total)).toBe(true);
  expect(events.at(-1)).toEqual([total, total]);
}

/**
 * A proxy in front of the token's store whose first `failures` POSTs are read whole and then fail: the
 * connection is cut without an answer ("reset", the store may or may not have stored it) or answered with S3's
 * 503 SlowDown. Later POSTs go through. `real(url)` is a returned FileUrl on the store's own origin.
 */
async function flakyStore(t: FileTokenLike, failures: number, fault: 'reset' | 'slowdown') {
  const store = new URL(t.host!);
  let posts = 0;
  const proxy = createServer((req, res) => {
    posts++;
    const fail = posts <= failures;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fail && fault === 'reset') return void req.socket.destroy();
      if (fail) return void res.writeHead(503, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      const up = request({ host: store.hostname, port: store.port, method: req.method, path: req.url, headers: { ...req.headers, host: store.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  return {
    token: { ...t, host: origin + store.pathname.replace(/\/+$/, '') },
    posts: () => posts,
    real: (url: string) => store.origin + url.slice(new URL(url).origin.length),
    close: () => new Promise<void>((r) => proxy.close(() => r())),
  };
}

for (const driver of ['local', 's3'] as const) {
  describe(`uploadFile, ${driver} driver`, () => {
    let s3: RunningS3rver | undefined;
    let srv: TestServer;
    let client: McubeClient;
    let dir: string;
    beforeAll(async () => {
      if (driver === 's3') s3 = await startS3rver();
      srv = await startTestServer({ ...(s3?.env ?? {}), MCUBE_UPLOAD_MAX_BYTES: String(MAX) });
      client = new McubeClient({ endpoint: srv.url, ...srv.creds, env: {}, throwOnBusinessError: true });
      dir = mkdtempSync(join(tmpdir(), 'mcube-sdk-upload-'));
    });
    afterAll(async () => {
      await srv?.close();
      await s3?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const token = async () => (await client.getMcubeFileToken({ onexFlag: true })).getFileTokenResult.fileToken!;
    const scope = () => ({ tenantId: srv.creds.tenantId, appId: srv.creds.appId, workspaceId: srv.creds.workspaceId });

    it('streams a file from disk with progress and returns a FileUrl the server accepts', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const path = join(dir, 'package v1.zip');
      writeFileSync(path, data);
      const events: Array<[number, number | undefined]> = [];
      const fileUrl = await uploadFile(await token(), path, { onProgress: (s, t) => events.push([s, t]) });
      expectProgress(events, data.length);
      expect(fileUrl).toMatch(/\/package%20v1\.zip$/);
      const obj = await resolveUploadedObject(srv.node.deps, scope(), fileUrl);
      expect(obj.size).toBe(data.length);
    });

    it('uploads a Buffer and a Readable (sized, or chunked when the store takes it)', async () => {
      const data = randomBytes(200_000);
      const events: Array<[number, number | undefined]> = [];
      const a = await uploadFile(await token(), data, { filename: 'a.bin', onProgress: (s, t) => events.push([s, t]) });
      expectProgress(events, data.length);
      expect((await resolveUploadedObject(srv.node.deps, scope(), a)).size).toBe(data.length);
      const b = await uploadFile(await token(), Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { filename: 'b.bin', size: data.length });
      expect((await resolveUploadedObject(srv.node.deps, scope(), b)).size).toBe(data.length);
      // a stream of unknown length is sent chunked: only the local driver takes that (S3 needs a length)
      if (driver === 'local') {
        const c = await uploadFile(await token(), Readable.from([data]), { filename: 'c.bin' });
        expect((await resolveUploadedObject(srv.node.deps, scope(), c)).size).toBe(data.length);
      }
    });

    it('the uploaded file feeds a later action (whitelist import by OssUrl)', async () => {
      const ids = Array.from({ length: 500 }, (_, i) => `user-${i}`).join('\n');
      const fileUrl = await uploadFile(await token(), Buffer.from(ids), { filename: 'ids.txt', contentType: 'text/plain' });
      const wl = await client.createMcubeWhitelist({ whiteListName: `import-${driver}`, whitelistType: 'normal' });
      const r = await client.updateMcubeWhitelist({ id: wl.createWhitelistResult.whitelistId!, ossUrl: fileUrl, onexFlag: true });
      expect(r.addWhitelistResult.addWhitelistInfo).toMatchObject({ successNum: 500, failNum: 0 });
    });

    it('refuses a source that does not hold the bytes its size promised, at once, and the post is cut off', async () => {
      const data = randomBytes(100_000);
      const t = await token();
      // shorter than its size: without the check the store waited for the rest until the 120 s idle timeout
      const short = await uploadFile(t, Readable.from([data.subarray(0, 60_000)]), { filename: 'short.bin', size: data.length }).catch((e) => e);
      expect(short).toBeInstanceOf(McubeUploadError);
      expect(short).toMatchObject({ code: 'SourceChanged' });
      expect(short.message).toContain('ended after 60000 bytes, not the 100000');
      // longer: the excess would follow the declared body on the connection
      const long = await uploadFile(t, Readable.from([data, data]), { filename: 'long.bin', size: data.length }).catch((e) => e);
      expect(long).toMatchObject({ code: 'SourceChanged' });
      expect(long.message).toContain('grew to at least 200000 bytes');
      // where each would be: the token's key with the file name in it (the same key a complete upload gets)
      const key = Object.entries(t.formFields!).find(([k]) => k.toLowerCase() === 'key')![1];
      const urlOf = (name: string) => `${t.host!.replace(/\/+$/, '')}/${encodeKey(key.split('${filename}').join(name))}`;
      const complete = await uploadFile(t, data, { filename: 'complete.bin' });
      expect(complete).toBe(urlOf('complete.bin'));
      // the local store keeps nothing of a cut-off post (as S3 does); s3rver, the tests' S3 server, keeps what it got
      if (driver === 'local') for (const name of ['short.bin', 'long.bin']) {
        await expect(resolveUploadedObject(srv.node.deps, scope(), urlOf(name))).rejects.toMatchObject({ code: 'FileNotFound' });
      }
    }, 20_000);

    it('the content type given is the one the stored object is served with', async () => {
      const fileUrl = await uploadFile(await token(), Buffer.from('{"a":1}'), { filename: 'data.bin', contentType: 'application/json' });
      const obj = await resolveUploadedObject(srv.node.deps, scope(), fileUrl);
      const res = await fetch(await srv.node.deps.blobs.downloadUrl(obj.key));
      expect(await res.text()).toBe('{"a":1}');
      // S3 keeps the type of the form's Content-Type field (the file part's own header is ignored); the local store
      // serves by file name extension, and takes the field its policy allows
      if (driver === 's3') expect(res.headers.get('content-type')).toBe('application/json');
    });

    it('refuses a content type that would end the part headers early', async () => {
      for (const contentType of ['text/plain\r\nX-Injected: 1', 'text/plain\n', '']) {
        await expect(uploadFile(await token(), Buffer.from('x'), { filename: 'x.txt', contentType })).rejects.toThrow(TypeError);
      }
      const ok = await uploadFile(await token(), Buffer.from('x'), { filename: 'y.txt', contentType: 'text/plain; charset=utf-8' });
      expect((await resolveUploadedObject(srv.node.deps, scope(), ok)).size).toBe(1);
    });

    it('sends a path or bytes again after a lost connection or a 503 from the store; a stream is sent once', async () => {
      const data = randomBytes(300_000);
      const path = join(dir, 'again.zip');
      writeFileSync(path, data);
      for (const fault of ['reset', 'slowdown'] as const) {
        for (const source of [path, data]) {
          const flaky = await flakyStore(await token(), 1, fault);
          try {
            const retries: Array<{ action: string; attempt: number; code?: string }> = [];
            const events: Array<[number, number | undefined]> = [];
            const url = await uploadFile(flaky.token, source, {
              filename: 'again.zip',
              retry: { baseDelayMs: 1 },
              onRetry: (e) => retries.push({ action: e.action, attempt: e.attempt, code: (e.error as { code?: string }).code }),
              onProgress: (s, t) => events.push([s, t]),
            });
            expect(flaky.posts(), fault).toBe(2);
            expect(retries, fault).toEqual([{ action: 'upload', attempt: 1, code: fault === 'reset' ? expect.stringMatching(/^E|socket/i) : 'SlowDown' }]);
            // progress does not go back when the second attempt starts from byte 0
            expectProgress(events, data.length);
            const stored = await resolveUploadedObject(srv.node.deps, scope(), flaky.real(url));
            expect(stored.size).toBe(data.length);
          } finally {
            await flaky.close();
          }
        }
      }
      const flaky = await flakyStore(await token(), 1, 'reset');
      try {
        const retried: unknown[] = [];
        const err = await uploadFile(flaky.token, Readable.from([data]), { filename: 'once.zip', size: data.length, retry: { baseDelayMs: 1 }, onRetry: (e) => retried.push(e) }).catch((e) => e);
        expect(err).toBeInstanceOf(McubeNetworkError);
        expect(retried).toEqual([]);
        expect(flaky.posts()).toBe(1);
      } finally {
        await flaky.close();
      }
    });

    // The store's refusals: only the local driver enforces signatures and policy conditions; s3rver, the S3 server
    // of the tests, checks neither (test/helpers/s3rver.ts), so on 's3' there is no refusal to observe. The
    // conditions of the S3 policy itself are checked in test/storage/upload-flow.test.ts.
    if (driver === 'local') {
      it('reports the store refusing a tampered policy as McubeUploadError', async () => {
        const t = await token();
        const forged = { ...t, formFields: { ...t.formFields!, Policy: Buffer.from('{"expiration":"2999-01-01T00:00:00Z","conditions":[]}').toString('base64') } };
        const retried: unknown[] = [];
        const err = await uploadFile(forged, Buffer.from('x'), { filename: 'x.bin', onRetry: (e) => retried.push(e) }).catch((e) => e);
        expect(err).toBeInstanceOf(McubeUploadError);
        expect(err.statusCode).toBe(403);
        // a refusal is final: not sent again
        expect(retried).toEqual([]);
        expect(err.code).toMatch(/SignatureDoesNotMatch|AccessDenied/);
      });

      it('reports an oversized upload as EntityTooLarge, even while the body is still being sent', async () => {
        const err = await uploadFile(await token(), randomBytes(MAX + 1024 * 1024), { filename: 'big.bin' }).catch((e) => e);
        expect(err).toBeInstanceOf(McubeUploadError);
        expect(err).toMatchObject({ code: 'EntityTooLarge', statusCode: 400 });
      });
    }
  });
}
