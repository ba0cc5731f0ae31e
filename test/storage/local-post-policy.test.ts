import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveLocalSecrets } from '../../packages/server/src/features/storage/local-signing.js';
import { signPostPolicy } from '../../packages/server/src/features/storage/post-policy.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { postUploadForm, type FileToken } from '../helpers/upload.js';
import { openapiCore } from '../helpers/vendor-clients.js';

const MAX = 1024;
let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_UPLOAD_MAX_BYTES: String(MAX) });
});
afterAll(async () => {
  await srv?.close();
});

/** Every file under <dataDir>/blobs, temp files included. */
function storedFiles(): string[] {
  const root = join(srv.env.dataDir, 'blobs');
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

async function token(): Promise<FileToken> {
  const call = openapiCore(srv.host, srv.creds);
  const r = await call('GetMcubeFileToken', { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId });
  expect(r.body.ResultCode).toBe('OK');
  return r.body.GetFileTokenResult.FileToken;
}

const fieldsOf = (t: FileToken, patch: Record<string, string | null> = {}): Array<[string, string]> => {
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries({ ...t.FormFields, ...patch })) if (v !== null) out.push([k, v]);
  return out;
};

const file = (size = 100, filename = 'a.amr') => ({ filename, data: randomBytes(size) });

/** Posts, expects an S3-style XML refusal, and checks that nothing at all was stored. */
async function refused(res: Promise<Response>, status: number, code: string, message?: RegExp): Promise<void> {
  const before = storedFiles();
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/xml');
  expect(body).toContain(`<Code>${code}</Code>`);
  if (message) expect(body).toMatch(message);
  expect(storedFiles()).toEqual(before);
  expect(storedFiles().filter((f) => f.includes(`${join('blobs', '.tmp')}`))).toEqual([]);
}

describe('local driver enforces the POST policy; a refused upload stores nothing', () => {
  it('accepts a valid form (204, Location = urlForKey) and substitutes ${filename}', async () => {
    const t = await token();
    const r = await postUploadForm(t.Host, fieldsOf(t), file(MAX, 'full.amr'));
    expect(r.status).toBe(204);
    expect(r.headers.get('location')).toBe(srv.node.deps.blobs.urlForKey(`${t.Dir}full.amr`));
    expect(r.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await srv.node.deps.blobs.head(`${t.Dir}full.amr`))?.size).toBe(MAX);
  });

  it('answers 201 with S3 PostResponse XML when success_action_status=201', async () => {
    const t = await token();
    const r = await postUploadForm(t.Host, fieldsOf(t, { success_action_status: '201' }), file(10, 'x.json'));
    expect(r.status).toBe(201);
    const xml = await r.text();
    expect(xml).toContain(`<Key>${t.Dir}x.json</Key>`);
    expect(xml).toContain(`<Location>${srv.node.deps.blobs.urlForKey(`${t.Dir}x.json`)}</Location>`);
    expect(xml).toContain('<Bucket>mcube</Bucket>');
  });

  it('keeps a UTF-8 file name intact in ${filename}', async () => {
    const t = await token();
    const r = await postUploadForm(t.Host, fieldsOf(t), file(10, '离线包 v1.amr'));
    expect(r.status).toBe(204);
    const key = `${t.Dir}离线包 v1.amr`;
    expect(r.headers.get('location')).toBe(srv.node.deps.blobs.urlForKey(key));
    expect(srv.node.deps.blobs.keyFromUrl(r.headers.get('location')!)).toBe(key);
    expect((await srv.node.deps.blobs.head(key))?.size).toBe(10);
  });

  it('a key the file system cannot hold is a 400 InvalidArgument, not a 500: a file under a stored file, a name too long', async () => {
    const t = await token();
    expect((await postUploadForm(t.Host, fieldsOf(t, { key: `${t.Dir}a` }), file(10))).status).toBe(204);
    await refused(postUploadForm(t.Host, fieldsOf(t, { key: `${t.Dir}a/b` }), file(10)), 400, 'InvalidArgument', /collides/);
    await refused(postUploadForm(t.Host, fieldsOf(t), file(10, `${'n'.repeat(252)}.amr`)), 400, 'InvalidArgument', /too long/);
  });

  it('leaves nothing behind when the client goes away mid-upload', async () => {
    const t = await token();
    const before = storedFiles();
    const boundary = 'mcubeboundary';
    const head = fieldsOf(t)
      .map(([k, v]) => `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
      .join('');
    const req = request({
      host: '127.0.0.1',
      port: srv.port,
      path: '/_storage/upload',
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': 100_000 },
    });
    req.on('error', () => {});
    req.write(`${head}--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="cut.amr"\r\n\r\n`);
    req.write(randomBytes(500));
    // wait until the server has started the temp file, then drop the connection
    const tmpDir = join(srv.env.dataDir, 'blobs', '.tmp');
    for (let i = 0; i < 500 && readdirSync(tmpDir).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(readdirSync(tmpDir).length).toBe(1);
    req.destroy();
    for (let i = 0; i < 500 && readdirSync(tmpDir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(storedFiles()).toEqual(before);
  });

  it('refuses an expired policy', async () => {
    const t = await token();
    const signed = signPostPolicy({
      bucket: 'mcube',
      dir: t.Dir,
      maxBytes: MAX,
      now: Date.now() - 2 * 3600_000,
      expiresInSec: 3600,
      accessId: 'mcube-local',
      secret: deriveLocalSecrets(srv.node.deps.config.masterKey).upload,
      region: 'us-east-1',
    });
    await refused(postUploadForm(t.Host, Object.entries(signed.fields), file()), 403, 'AccessDenied', /Policy expired/);
  });

  it('refuses a tampered policy (raised size limit, signature kept)', async () => {
    const t = await token();
    const doc = JSON.parse(Buffer.from(t.Policy, 'base64').toString('utf8'));
    doc.conditions = doc.conditions.map((c: unknown) => (Array.isArray(c) && c[0] === 'content-length-range' ? ['content-length-range', 1, 10 * MAX] : c));
    const policy = Buffer.from(JSON.stringify(doc)).toString('base64');
    await refused(postUploadForm(t.Host, fieldsOf(t, { Policy: policy }), file(2 * MAX)), 403, 'SignatureDoesNotMatch');
  });

  it('refuses a wrong signature, and a policy signed with another secret', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, fieldsOf(t, { 'X-Amz-Signature': '0'.repeat(64) }), file()), 403, 'SignatureDoesNotMatch');
    const forged = signPostPolicy({
      bucket: 'mcube', dir: t.Dir, maxBytes: MAX, now: Date.now(), expiresInSec: 600,
      accessId: 'mcube-local', secret: deriveLocalSecrets(randomBytes(32)).upload, region: 'us-east-1',
    });
    await refused(postUploadForm(t.Host, Object.entries(forged.fields), file()), 403, 'SignatureDoesNotMatch');
    await refused(postUploadForm(t.Host, fieldsOf(t, { 'X-Amz-Signature': null }), file()), 400, 'InvalidArgument');
  });

  it('refuses keys outside the policy prefix (another upload dir, another tenant)', async () => {
    const t = await token();
    const otherDir = t.Dir.replace(/[0-9a-f-]{36}\/$/, '00000000-0000-0000-0000-000000000000/');
    await refused(postUploadForm(t.Host, fieldsOf(t, { key: `${otherDir}a.amr` }), file()), 403, 'AccessDenied', /Policy Condition failed/);
    await refused(postUploadForm(t.Host, fieldsOf(t, { key: 'uploads/TENANT02/ALIPUB0000002/default/a.amr' }), file()), 403, 'AccessDenied');
    await refused(postUploadForm(t.Host, fieldsOf(t, { key: '${filename}' }), file(100, t.Dir + 'a.amr')), 403, 'AccessDenied');
  });

  it('refuses traversal and unsafe keys, in key or through ${filename}', async () => {
    const t = await token();
    for (const key of [`${t.Dir}../../../../../x.amr`, `${t.Dir}a/./b.amr`, `${t.Dir}a//b.amr`, `${t.Dir}a\\..\\b.amr`, `${t.Dir}`, `${t.Dir}a\u0000.amr`]) {
      await refused(postUploadForm(t.Host, fieldsOf(t, { key }), file()), 400, 'InvalidArgument', /object key/);
    }
  });

  it('keeps only the base name of a file name that carries a path (${filename} cannot climb)', async () => {
    const t = await token();
    const r = await postUploadForm(t.Host, fieldsOf(t), file(100, '../../../../../../etc/x.amr'));
    expect(r.status).toBe(204);
    expect(r.headers.get('location')).toBe(srv.node.deps.blobs.urlForKey(`${t.Dir}x.amr`));
    expect(storedFiles().every((f) => f.startsWith(join(srv.env.dataDir, 'blobs') + '/'))).toBe(true);
  });

  it('refuses an oversize body while streaming, small or large', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, fieldsOf(t), file(MAX + 1)), 400, 'EntityTooLarge');
    await refused(postUploadForm(t.Host, fieldsOf(t), file(4 * 1024 * 1024)), 400, 'EntityTooLarge');
  });

  it('refuses an empty file (content-length-range starts at 1)', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, fieldsOf(t), file(0)), 400, 'EntityTooSmall');
  });

  it('refuses a form without key, or with key after the file part', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, fieldsOf(t, { key: null }), file()), 400, 'InvalidArgument', /field named &#39;key&#39;/);
    const form = new FormData();
    for (const [k, v] of fieldsOf(t, { key: null })) form.append(k, v);
    form.append('file', new Blob([randomBytes(10)]), 'a.amr');
    form.append('key', `${t.Dir}a.amr`);
    await refused(fetch(t.Host, { method: 'POST', body: form }), 400, 'InvalidArgument', /field named &#39;key&#39;/);
  });

  it('refuses two files, and a form without a file', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, fieldsOf(t), file(), file(10, 'b.amr')), 400, 'InvalidArgument', /exactly one file/);
    await refused(postUploadForm(t.Host, fieldsOf(t)), 400, 'InvalidArgument', /exactly one file/);
  });

  it('refuses fields the policy does not name, duplicates, and a non-multipart body', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, fieldsOf(t, { 'x-amz-meta-owner': 'me' }), file()), 403, 'AccessDenied', /Extra input fields/);
    await refused(postUploadForm(t.Host, [...fieldsOf(t), ['key', `${t.Dir}b.amr`]], file()), 400, 'InvalidArgument', /more than once/);
    await refused(fetch(t.Host, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), 400, 'MalformedPOSTRequest');
  });
});

/** GET with the path sent byte for byte (fetch would resolve the dot segments itself). */
function rawGetStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, path, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('local presigned downloads', () => {
  it('serves GET and HEAD with length and type; refuses bad, foreign and expired signatures with 403', async () => {
    const { blobs } = srv.node.deps;
    const key = 'uploads/TENANT01/ALIPUB0000001/default/dl/h5.json';
    await blobs.put(key, Buffer.from('{"a":1}'));
    const url = await blobs.downloadUrl(key);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/json');
    expect(got.headers.get('content-length')).toBe('7');
    expect(await got.text()).toBe('{"a":1}');
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('7');

    const u = new URL(url);
    const expires = Number(u.searchParams.get('X-Mcube-Expires'));
    const sig = u.searchParams.get('X-Mcube-Signature')!;
    const base = url.slice(0, url.indexOf('?'));
    const other = blobs.urlForKey('uploads/TENANT01/ALIPUB0000001/default/dl/other.json');
    await blobs.put('uploads/TENANT01/ALIPUB0000001/default/dl/other.json', Buffer.from('{}'));
    for (const bad of [
      base,
      `${base}?X-Mcube-Expires=${expires}&X-Mcube-Signature=${'0'.repeat(64)}`,
      `${base}?X-Mcube-Expires=${expires + 1}&X-Mcube-Signature=${sig}`,
      `${other}?X-Mcube-Expires=${expires}&X-Mcube-Signature=${sig}`,
    ]) {
      const r = await fetch(bad);
      expect(r.status, bad).toBe(403);
      expect(await r.text()).toContain('<Code>AccessDenied</Code>');
    }
    // an expired link: signed for a moment in the past with the real secret
    const { signDownload } = await import('../../packages/server/src/features/storage/local-signing.js');
    const past = Math.floor(Date.now() / 1000) - 10;
    const secret = deriveLocalSecrets(srv.node.deps.config.masterKey).download;
    expect((await fetch(`${base}?X-Mcube-Expires=${past}&X-Mcube-Signature=${signDownload(secret, key, past)}`)).status).toBe(403);
    // traversal in the object path never reaches the file system
    for (const path of ['/_storage/obj/uploads/%2e%2e/%2e%2e/master.key', '/_storage/obj/uploads/..%2f..%2fmaster.key', '/_storage/obj/%2fetc%2fpasswd']) {
      expect(await rawGetStatus(`${path}?X-Mcube-Expires=${expires}&X-Mcube-Signature=${sig}`), path).toBe(400);
    }
  });
});
