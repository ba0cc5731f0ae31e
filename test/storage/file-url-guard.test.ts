import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { createLogger } from '../../packages/server/src/core/logger.js';
import type { ActionContext } from '../../packages/server/src/core/registry.js';
import { S3BlobStore, resolveUploadedObject, uploadPrefix } from '../../packages/server/src/features/storage/index.js';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { makeTestEnv, startTestServer, type TestEnv, type TestServer } from '../helpers/server.js';
import { uploadWithToken, type FileToken } from '../helpers/upload.js';
import { openapiCore } from '../helpers/vendor-clients.js';

/** A bystander HTTP server: any request reaching it means a client URL was fetched. */
let bystander: Server;
let hits = 0;
let trap: string;
let srv: TestServer;

beforeAll(async () => {
  bystander = createServer((_req, res) => {
    hits++;
    res.end('{"secret":"metadata"}');
  });
  await new Promise<void>((r) => bystander.listen(0, '127.0.0.1', () => r()));
  trap = `http://127.0.0.1:${(bystander.address() as AddressInfo).port}`;
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
  await new Promise((r) => bystander?.close(r));
});

const ctxOf = (tenantId: string, appId: string, workspaceId = 'default'): ActionContext => ({
  requestId: 'test',
  tenantId,
  accessKeyId: 'test',
  appId,
  workspaceId,
  deps: srv.node.deps,
});

async function tokenFor(creds: { accessKeyId: string; accessKeySecret: string }, tenantId: string, appId: string): Promise<FileToken> {
  const r = await openapiCore(srv.host, creds)('GetMcubeFileToken', { AppId: appId, WorkspaceId: 'default', TenantId: tenantId, OnexFlag: true });
  expect(r.body.ResultCode).toBe('OK');
  return r.body.GetFileTokenResult.FileToken;
}

describe('FileUrl guard (local driver)', () => {
  it('refuses another tenant\'s upload, accepts it for its owner', async () => {
    const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await tenants.ensureTenant('TENANT02');
    await tenants.ensureApp('TENANT02', 'ALIPUB0000002');
    await tenants.ensureWorkspace('ALIPUB0000002', 'default');
    const key2 = await tenants.createAccessKey('TENANT02');
    const t2 = await tokenFor({ accessKeyId: key2.id, accessKeySecret: key2.secret }, 'TENANT02', 'ALIPUB0000002');
    expect(t2.Dir.startsWith('uploads/TENANT02/ALIPUB0000002/default/')).toBe(true);
    const url2 = await uploadWithToken(t2, 'theirs.amr', randomBytes(64));

    const mine = ctxOf('TENANT01', 'ALIPUB0000001');
    await expect(resolveUploadedObject(srv.node.deps, mine, url2)).rejects.toMatchObject({ code: 'InvalidFileUrl', message: expect.stringContaining('FileUrl') });
    // the same tenant's other workspace does not share the prefix either
    await expect(resolveUploadedObject(srv.node.deps, ctxOf('TENANT02', 'ALIPUB0000002', 'other'), url2)).rejects.toMatchObject({ code: 'InvalidFileUrl' });
    expect(await resolveUploadedObject(srv.node.deps, ctxOf('TENANT02', 'ALIPUB0000002'), url2)).toMatchObject({ size: 64 });
  });

  it('refuses every URL that is not ours, and fetches none of them', async () => {
    const ctx = ctxOf('TENANT01', 'ALIPUB0000001');
    const t = await tokenFor(srv.creds, 'TENANT01', 'ALIPUB0000001');
    const good = await uploadWithToken(t, 'ok.amr', randomBytes(32));
    const key = `${t.Dir}ok.amr`;
    const { blobs } = srv.node.deps;
    expect(blobs.keyFromUrl(good)).toBe(key);
    // the presigned download form of our own object is ours too (its query is ignored)
    expect(blobs.keyFromUrl(await blobs.downloadUrl(key))).toBe(key);

    const ours = `${srv.url}/_storage/obj/`;
    const bad = [
      `${trap}/_storage/obj/${key}`,
      `${trap}/latest/meta-data/`,
      `http://169.254.169.254/latest/meta-data/iam/security-credentials/`,
      `http://169.254.169.254/_storage/obj/${key}`,
      `http://localhost:${srv.port}/_storage/obj/${key}`,
      `https://127.0.0.1:${srv.port}/_storage/obj/${key}`,
      `http://127.0.0.1:${srv.port}@127.0.0.1:${new URL(trap).port}/_storage/obj/${key}`,
      `http://user:pw@127.0.0.1:${srv.port}/_storage/obj/${key}`,
      `http://127.0.0.1:${srv.port}/_storage/obj/../../_storage/obj/${key}`,
      `${ours}${t.Dir}%2e%2e/%2e%2e/%2e%2e/%2e%2e/TENANT02/ALIPUB0000002/default/x.amr`,
      `${ours}${t.Dir}..%2f..%2f..%2fmaster.key`,
      `${ours}${t.Dir}%2E%2E%5C%2E%2E%5Cx.amr`,
      `${ours}%2fetc%2fpasswd`,
      `${ours}${t.Dir}a%00.amr`,
      `${ours}${t.Dir}%zz.amr`,
      `${ours}${key}#frag`,
      `${ours}${key}?redirect=${encodeURIComponent(trap)}`,
      `${ours}${key}?X-Mcube-Expires=1&X-Mcube-Expires=2`,
      `${srv.url}/_storage/upload/${key}`,
      `${srv.url}/${key}`,
      ` ${good}`,
      `file:///etc/passwd`,
      `file://${srv.env.dataDir}/blobs/mcube/${key}`,
      `ftp://127.0.0.1:${srv.port}/_storage/obj/${key}`,
      `data:application/octet-stream;base64,${Buffer.from('PK').toString('base64')}`,
      `gopher://127.0.0.1:${srv.port}/_storage/obj/${key}`,
      key,
      '',
    ];
    for (const url of bad) {
      expect(blobs.keyFromUrl(url), url).toBeNull();
      await expect(resolveUploadedObject(srv.node.deps, ctx, url), url).rejects.toMatchObject({ code: 'InvalidFileUrl' });
    }
    for (const v of [undefined, null, 42, { href: good }]) {
      await expect(resolveUploadedObject(srv.node.deps, ctx, v)).rejects.toMatchObject({ code: 'InvalidFileUrl' });
    }
    expect(hits).toBe(0);
  });

  it('uploadPrefix is scoped by tenant, app and workspace', () => {
    expect(uploadPrefix({ tenantId: 'T1', appId: 'A1', workspaceId: 'dev' })).toBe('uploads/T1/A1/dev/');
  });
});

describe('FileUrl guard (s3 driver, endpoint pointed at the bystander)', () => {
  let env: TestEnv;
  let store: S3BlobStore;
  let endpoint: string;
  beforeAll(() => {
    endpoint = trap.replace('127.0.0.1', 'localhost');
    env = makeTestEnv({ MCUBE_STORAGE: 's3', MCUBE_S3_ENDPOINT: endpoint, MCUBE_S3_BUCKET: 'media', MCUBE_S3_ACCESS_KEY_ID: 'x', MCUBE_S3_SECRET_ACCESS_KEY: 'y' });
    // not started: construction makes no request, and the checks below must not either
    store = new S3BlobStore(loadConfig(env.env), createLogger('silent'));
  });
  afterAll(async () => {
    await store?.close();
    await env?.cleanup();
  });

  it('accepts only <endpoint>/<bucket>/<key> (and the virtual-host spelling) with a safe key', async () => {
    const key = 'uploads/TENANT01/ALIPUB0000001/default/u/a b.amr';
    const port = new URL(trap).port;
    expect(store.urlForKey(key)).toBe(`${endpoint}/media/uploads/TENANT01/ALIPUB0000001/default/u/a%20b.amr`);
    expect(store.keyFromUrl(store.urlForKey(key))).toBe(key);
    expect(store.keyFromUrl(`http://media.localhost:${port}/${key.replace(' ', '%20')}`)).toBe(key);
    const bad = [
      `${endpoint}/other-bucket/${key}`,
      `${endpoint}/media-evil/${key}`,
      `${endpoint}/${key}`,
      `http://other.localhost:${port}/${key}`,
      `${trap}/media/${key}`,
      `http://localhost:1/media/${key}`,
      `http://169.254.169.254/media/${key}`,
      `${endpoint}/media/${key}?X-Amz-Signature=abc`,
      `${endpoint}/media/uploads/%2e%2e/%2e%2e/x`,
      `${endpoint}/media/uploads/a\\..\\x`,
      `ftp://127.0.0.1:${port}/media/${key}`,
      `file:///media/${key}`,
      `data:,media/${key}`,
    ];
    for (const url of bad) expect(store.keyFromUrl(url), url).toBeNull();
    const ctx = { tenantId: 'TENANT01', appId: 'ALIPUB0000001', workspaceId: 'default' };
    for (const url of bad) {
      await expect(resolveUploadedObject({ blobs: store, config: loadConfig(env.env) }, ctx, url), url).rejects.toMatchObject({ code: 'InvalidFileUrl' });
    }
    expect(hits).toBe(0);
  });

  it('pointsInto: any spelling of a link into the bucket counts as ours (links given as DownloadUrl are refused then)', () => {
    const key = 'uploads/TENANT01/ALIPUB0000001/default/u/a.apk';
    const port = new URL(trap).port;
    const ours = [
      store.urlForKey(key),
      `${store.urlForKey(key)}?x=1`,
      `${store.urlForKey(key)}#f`,
      `${endpoint}/media/${key}?X-Amz-Signature=abc`,
      `${endpoint.toUpperCase().replace('HTTP://', 'http://')}/media/${key}`,
      `${endpoint}/other/../media/${key}`,
      `${endpoint}/%6Dedia/${key}`,
      `http://user:pw@localhost:${port}/media/${key}`,
      `http://media.localhost:${port}/anything`,
      `https://localhost:${port}/media/${key}`,
      `http://localhost.:${port}/media/${key}`,
    ];
    for (const url of ours) expect(store.pointsInto(url), url).toBe(true);
    const theirs = [`${endpoint}/other-bucket/${key}`, `${endpoint}/media-evil/${key}`, `http://other.localhost:${port}/${key}`, 'https://dl.example.com/a.apk', `ftp://localhost:${port}/media/${key}`];
    for (const url of theirs) expect(store.pointsInto(url), url).toBe(false);
  });

  it('pointsInto on AWS: every host name the bucket answers under, http or https, and the download base', async () => {
    const e = makeTestEnv({ MCUBE_STORAGE: 's3', MCUBE_S3_REGION: 'eu-west-1', MCUBE_S3_BUCKET: 'media', MCUBE_S3_ACCESS_KEY_ID: 'x', MCUBE_S3_SECRET_ACCESS_KEY: 'y', MCUBE_DOWNLOAD_BASE_URL: 'https://cdn.example.com/mcube' });
    const aws = new S3BlobStore(loadConfig(e.env), createLogger('silent'));
    try {
      const ours = [
        'https://s3.eu-west-1.amazonaws.com/media/k.apk',
        'http://s3.eu-west-1.amazonaws.com/media/k.apk',
        'https://s3.eu-west-1.amazonaws.com./media/k.apk',
        'https://media.s3.amazonaws.com/k.apk',
        'https://media.s3.eu-west-1.amazonaws.com/k.apk',
        'https://media.s3.dualstack.eu-west-1.amazonaws.com/k.apk',
        'https://media.s3-eu-west-1.amazonaws.com/k.apk',
        'https://s3.amazonaws.com/media/k.apk',
        'https://s3.dualstack.eu-west-1.amazonaws.com/media/k.apk',
        'https://cdn.example.com/mcube/pkg/k.apk',
        'http://cdn.example.com/mcube/pkg/k.apk',
      ];
      for (const url of ours) expect(aws.pointsInto(url), url).toBe(true);
      const theirs = ['https://other.s3.amazonaws.com/k.apk', 'https://s3.amazonaws.com/mediax/k.apk', 'https://s3.eu-west-1.amazonaws.com/other/k.apk', 'https://cdn.example.com/mcube-old/k.apk', 'https://media.example.com/k.apk'];
      for (const url of theirs) expect(aws.pointsInto(url), url).toBe(false);
    } finally {
      await aws.close();
      await e.cleanup();
    }
  });

  it.each(['http://10.0.0.5:9000', 'http://[::1]:9000'])('pointsInto with an endpoint given as an IP address (%s): no virtual-hosted spelling, and a foreign link is simply not ours', async (ep) => {
    const e = makeTestEnv({ MCUBE_STORAGE: 's3', MCUBE_S3_ENDPOINT: ep, MCUBE_S3_BUCKET: 'media', MCUBE_S3_ACCESS_KEY_ID: 'x', MCUBE_S3_SECRET_ACCESS_KEY: 'y', MCUBE_S3_FORCE_PATH_STYLE: 'true' });
    const minio = new S3BlobStore(loadConfig(e.env), createLogger('silent'));
    try {
      // an App Store link for an iOS package, a CDN link for an Android one: a 500 before
      for (const url of ['https://apps.apple.com/app/id1234567890', 'https://cdn.example.com/shop-1.apk', `${ep}/other/k.apk`]) expect(minio.pointsInto(url), url).toBe(false);
      expect(minio.pointsInto(`${ep}/media/uploads/k.apk`)).toBe(true);
      expect(minio.keyFromUrl('https://apps.apple.com/app/id1234567890')).toBeNull();
    } finally {
      await minio.close();
      await e.cleanup();
    }
  });

  it.each(['true', 'false'])('the FileToken Host + "/" + key is an object URL it accepts (path style %s)', async (pathStyle) => {
    const e = makeTestEnv({ MCUBE_STORAGE: 's3', MCUBE_S3_REGION: 'eu-west-1', MCUBE_S3_BUCKET: 'media', MCUBE_S3_ACCESS_KEY_ID: 'x', MCUBE_S3_SECRET_ACCESS_KEY: 'y', MCUBE_S3_FORCE_PATH_STYLE: pathStyle });
    const aws = new S3BlobStore(loadConfig(e.env), createLogger('silent'));
    try {
      const token = await aws.createUploadToken({ dir: 'uploads/TENANT01/ALIPUB0000001/default/u1/', maxBytes: 1000, expiresInSec: 900 });
      expect(token.url).not.toMatch(/\/$/);
      expect(aws.keyFromUrl(`${token.url}/${token.dir}app.zip`)).toBe(`${token.dir}app.zip`);
      // real S3 refuses form fields no condition covers: the Content-Type an OSS-style form may carry is covered
      const policy = JSON.parse(Buffer.from(token.policy, 'base64').toString('utf8')) as { conditions: unknown[] };
      expect(policy.conditions).toContainEqual(['starts-with', '$Content-Type', '']);
    } finally {
      await aws.close();
      await e.cleanup();
    }
  });
});
