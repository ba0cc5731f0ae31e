import { createHmac, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../packages/sdk/src/index.js';
import { deriveLocalSecrets } from '../../packages/server/src/features/storage/local-signing.js';
import { signPostPolicy } from '../../packages/server/src/features/storage/post-policy.js';
import { makeH5Zip, mcube, rsaKeyPair, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { postUploadForm, type FileToken } from '../helpers/upload.js';

/**
 * Scripts written for the vendor's cloud post an OSS PostObject form built from
 * the FileToken's documented fields alone (OSSAccessKeyId, policy, Signature,
 * key, success_action_status, file last), not our FormFields. The local driver
 * takes it when, and only when, it carries a policy we signed and satisfies it.
 */
const MAX = 64 * 1024;
let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_UPLOAD_MAX_BYTES: String(MAX) });
  call = mcube(srv);
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
  const r = await call('GetMcubeFileToken', { OnexFlag: true });
  expect(r.ResultCode).toBe('OK');
  return r.GetFileTokenResult.FileToken;
}

/** The OSS form from the documented token fields only, names spelt with mixed case as OSS allows; null drops a field. */
function ossForm(t: FileToken, key: string, patch: Record<string, string | null> = {}): Array<[string, string]> {
  const fields: Record<string, string | null> = {
    Key: key,
    OSSAccessKeyId: t.Accessid,
    policy: t.Policy,
    Signature: t.Signature,
    Success_Action_Status: '201',
    ...patch,
  };
  return Object.entries(fields).filter((e): e is [string, string] => e[1] !== null);
}

const file = (size = 100, filename = 'a.amr') => ({ filename, data: randomBytes(size) });

/** Posts, expects an S3/OSS-style XML refusal, and checks that nothing at all was stored. */
async function refused(res: Promise<Response>, status: number, code: string, message?: RegExp): Promise<void> {
  const before = storedFiles();
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  expect(r.headers.get('content-type')).toBe('application/xml');
  expect(body).toContain(`<Code>${code}</Code>`);
  if (message) expect(body).toMatch(message);
  expect(storedFiles()).toEqual(before);
  expect(storedFiles().filter((f) => f.includes(join('blobs', '.tmp')))).toEqual([]);
}

describe('local driver accepts the vendor OSS PostObject form with a policy it signed', () => {
  it('stores a form of only the documented fields (201 PostResponse), and the FileUrl feeds UploadMcubeRsaKey', async () => {
    const t = await token();
    const { privatePem } = rsaKeyPair();
    const key = `${t.Dir}private_key.pem`;
    const form = ossForm(t, key, { 'content-type': 'application/x-pem-file' });
    const r = await postUploadForm(t.Host, form, { filename: 'private_key.pem', data: Buffer.from(privatePem) });
    const xml = await r.text();
    expect(r.status, xml).toBe(201);
    const location = srv.node.deps.blobs.urlForKey(key);
    // a vendor script builds the FileUrl as Host + "/" + key, as with an OSS or S3 bucket
    expect(location).toBe(`${t.Host}/${key}`);
    expect(xml).toContain(`<Location>${location}</Location>`);
    expect(xml).toContain(`<Key>${key}</Key>`);
    expect(r.headers.get('location')).toBe(location);
    expect((await srv.node.deps.blobs.head(key))?.size).toBe(Buffer.byteLength(privatePem));

    const up = await call('UploadMcubeRsaKey', { FileUrl: location, OnexFlag: true });
    expect(up.ResultCode).toBe('OK');
    expect(up.UploadRsaResult).toEqual({ Data: 'processed successfully', ResultMsg: '', Success: true });
    expect((await call('ExistMcubeRsaKey')).CheckRsaKeyResult.Data).toBe('success');
  });

  it('answers 200 or 204 as success_action_status asks, with ${filename} in key and any field-name case', async () => {
    const t = await token();
    const r200 = await postUploadForm(t.Host, ossForm(t, `${t.Dir}\${filename}`, { Success_Action_Status: '200' }), file(10, 'x.amr'));
    expect(r200.status).toBe(200);
    expect(r200.headers.get('location')).toBe(srv.node.deps.blobs.urlForKey(`${t.Dir}x.amr`));
    const upper: Array<[string, string]> = [
      ['KEY', `${t.Dir}y.amr`],
      ['ossaccesskeyid', t.Accessid],
      ['POLICY', t.Policy],
      ['signature', t.Signature],
    ];
    const r204 = await postUploadForm(t.Host, upper, file(20, 'ignored.amr'));
    expect(r204.status).toBe(204);
    expect((await srv.node.deps.blobs.head(`${t.Dir}y.amr`))?.size).toBe(20);
  });

  it("the SDK's OSS fallback (a token without FormFields) uploads a zip that CreateMcubeNebulaResource accepts", async () => {
    const t = await token();
    const vendorToken = { Accessid: t.Accessid, Dir: t.Dir, Expire: t.Expire, Host: t.Host, Policy: t.Policy, Signature: t.Signature };
    const zip = await makeH5Zip('87654321');
    const fileUrl = await uploadFile(vendorToken, zip, { filename: '87654321.zip' });
    expect(fileUrl).toBe(srv.node.deps.blobs.urlForKey(`${t.Dir}87654321.zip`));

    if (!(await call('QueryMcubeVhost')).QueryVhostResult.Data) expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
    expect((await call('CreateMcubeNebulaApp', { H5Id: '87654321', H5Name: 'oss form' })).ResultCode).toBe('OK');
    const res = await call('CreateMcubeNebulaResource', {
      H5Id: '87654321',
      H5Name: 'oss form',
      H5Version: '1.0.0.0',
      ResourceType: 1,
      Platform: 'all',
      ClientVersionMin: '1.0.0;1.0.0',
      ClientVersionMax: '',
      FileUrl: fileUrl,
      MainUrl: '/www/index.html',
      ExtendInfo: '',
      AutoInstall: 1,
      InstallType: 1,
      OnexFlag: true,
    });
    expect(res.ResultCode, JSON.stringify(res)).toBe('OK');
    expect(Number(res.CreateMcubeNebulaResourceReslult.NebulaResourceId)).toBeGreaterThan(0);
  });
});

describe('local driver refuses an OSS form that does not prove the token; nothing is stored', () => {
  it('refuses a tampered policy (raised size limit, wider key prefix), Signature kept', async () => {
    const t = await token();
    const doc = JSON.parse(Buffer.from(t.Policy, 'base64').toString('utf8'));
    const raised = { ...doc, conditions: doc.conditions.map((c: unknown) => (Array.isArray(c) && c[0] === 'content-length-range' ? ['content-length-range', 1, 10 * MAX] : c)) };
    const b64 = (d: unknown) => Buffer.from(JSON.stringify(d)).toString('base64');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { policy: b64(raised) }), file(2 * MAX)), 403, 'SignatureDoesNotMatch');
    const wider = { ...doc, conditions: doc.conditions.map((c: unknown) => (Array.isArray(c) && c[1] === '$key' ? ['starts-with', '$key', 'uploads/'] : c)) };
    await refused(postUploadForm(t.Host, ossForm(t, 'uploads/TENANT02/ALIPUB0000002/default/a.amr', { policy: b64(wider) }), file()), 403, 'SignatureDoesNotMatch');
    // a policy naming no signer at all cannot be one of ours
    const bare = b64({ expiration: '2999-01-01T00:00:00Z', conditions: [['starts-with', '$key', ''], ['content-length-range', 0, 1 << 30]] });
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { policy: bare }), file()), 403, 'SignatureDoesNotMatch');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { policy: 'not base64!' }), file()), 403, 'SignatureDoesNotMatch');
  });

  it('refuses a wrong Signature: zeros, an OSS-style HMAC-SHA1, a policy signed with another secret', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { Signature: '0'.repeat(64) }), file()), 403, 'SignatureDoesNotMatch');
    const sha1 = createHmac('sha1', deriveLocalSecrets(srv.node.deps.config.masterKey).upload).update(t.Policy).digest('base64');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { Signature: sha1 }), file()), 403, 'SignatureDoesNotMatch');
    const forged = signPostPolicy({
      bucket: 'mcube', dir: t.Dir, maxBytes: MAX, now: Date.now(), expiresInSec: 600,
      accessId: 'mcube-local', secret: deriveLocalSecrets(randomBytes(32)).upload, region: 'us-east-1',
    });
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { policy: forged.policy, Signature: forged.signature }), file()), 403, 'SignatureDoesNotMatch');
  });

  it('refuses an expired policy we did sign', async () => {
    const t = await token();
    const old = signPostPolicy({
      bucket: 'mcube', dir: t.Dir, maxBytes: MAX, now: Date.now() - 2 * 3600_000, expiresInSec: 3600,
      accessId: 'mcube-local', secret: deriveLocalSecrets(srv.node.deps.config.masterKey).upload, region: 'us-east-1',
    });
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { policy: old.policy, Signature: old.signature }), file()), 403, 'AccessDenied', /Policy expired/);
  });

  it('refuses keys outside Dir (another upload dir, another tenant, traversal)', async () => {
    const t = await token();
    const otherDir = t.Dir.replace(/[0-9a-f-]{36}\/$/, '00000000-0000-0000-0000-000000000000/');
    await refused(postUploadForm(t.Host, ossForm(t, `${otherDir}a.amr`), file()), 403, 'AccessDenied', /Policy Condition failed/);
    await refused(postUploadForm(t.Host, ossForm(t, 'uploads/TENANT02/ALIPUB0000002/default/a.amr'), file()), 403, 'AccessDenied');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}../../x.amr`), file()), 400, 'InvalidArgument', /object key/);
  });

  it('refuses a file over the size range while streaming, and an empty file', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`), file(MAX + 1)), 400, 'EntityTooLarge');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`), file(0)), 400, 'EntityTooSmall');
  });

  it('refuses an OSSAccessKeyId that is not the token\'s, and a form missing OSSAccessKeyId, policy or Signature', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { OSSAccessKeyId: 'LTAI5tSomeoneElse' }), file()), 403, 'InvalidAccessKeyId');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { OSSAccessKeyId: t.Accessid.toUpperCase() }), file()), 403, 'InvalidAccessKeyId');
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { OSSAccessKeyId: null }), file()), 400, 'InvalidArgument', /OSSAccessKeyId/);
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { policy: null }), file()), 400, 'InvalidArgument', /policy/);
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { Signature: null }), file()), 400, 'InvalidArgument', /Signature/);
  });

  it('refuses fields the policy does not name, and OSS fields mixed into a SigV4 form', async () => {
    const t = await token();
    await refused(postUploadForm(t.Host, ossForm(t, `${t.Dir}a.amr`, { 'x-oss-meta-owner': 'me' }), file()), 403, 'AccessDenied', /Extra input fields/);
    const sigv4 = Object.entries(t.FormFields).map(([k, v]): [string, string] => [k, k === 'key' ? `${t.Dir}a.amr` : v]);
    await refused(postUploadForm(t.Host, [...sigv4, ['OSSAccessKeyId', t.Accessid]], file()), 403, 'AccessDenied', /Extra input fields: ossaccesskeyid/);
  });
});
