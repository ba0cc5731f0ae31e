import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { createLogger } from '../../packages/server/src/core/logger.js';
import { createBlobStore } from '../../packages/server/src/features/storage/index.js';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { makeH5Zip, mcube, rsaKeyPair, uploadFile } from '../helpers/nebula.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { startTestServer, TEST_CREDS, type TestServer } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';
import { startCountingServer, type CountingServer } from './lib/counting-server.js';
import { SuiteFigures } from './lib/figures.js';

/**
 * FileUrl / OssUrl values that name anything but the caller's own uploads:
 * another tenant's or app's upload prefix, another bucket, a bystander HTTP
 * server on loopback, the cloud metadata address, other schemes, user-info
 * and encoding tricks. UploadMcubeRsaKey, CreateMcubeNebulaResource and
 * UpdateMcubeWhitelist must refuse every one, on both storage drivers, and
 * the bystander must see no request at all.
 */
const H5 = '23456789';
const REFUSALS = ['InvalidFileUrl', 'FileNotFound'];

const fig = new SuiteFigures('foreign-urls', {
  inputsTried: 'foreign FileUrl/OssUrl values x the three consuming actions x both storage drivers',
  crashes: '5xx answers and error-level log lines of the server',
  hangs: 'calls without an answer within the vendor client timeout (60 s)',
  forgedOrForeignAccepted: 'calls that accepted a foreign URL (ResultCode OK)',
  overAdmissions: 'n/a: no time-window task is involved',
  orphansLeft: 'rows written by a refused call (RSA keys, packages, whitelist entries)',
  bytesFetchedFromForeignUrls: 'bytes the bystander HTTP server sent, plus connections it saw',
});
fig.check('notRefusedAsBadUrl');

const pem = rsaKeyPair(1024).privatePem;
let zip: Buffer;
const txt = Buffer.from('user-a\nuser-b\n');
let bystander: CountingServer;

beforeAll(async () => {
  zip = await makeH5Zip(H5);
  bystander = await startCountingServer((path) => (path.endsWith('.pem') ? Buffer.from(pem) : path.endsWith('.zip') ? zip : txt));
});
afterAll(async () => {
  fig.extra('bystander', { connections: bystander?.connections(), requests: bystander?.requests(), bytesSent: bystander?.bytesSent() });
  fig.write();
  await bystander?.close();
});

type Kind = 'pem' | 'zip' | 'txt';
const payload = (k: Kind) => (k === 'pem' ? Buffer.from(pem) : k === 'zip' ? zip : txt);
const fileName = (k: Kind) => (k === 'pem' ? 'key.pem' : k === 'zip' ? `${H5}.zip` : 'ids.txt');

interface Uploads {
  own: string;
  otherTenant: string;
  otherApp: string;
  otherWorkspace: string;
  otherBucket: string | null;
}

/** Every foreign spelling of a URL, built from the caller's own upload and the other uploads. */
function foreignUrls(srv: TestServer, u: Uploads, k: Kind, s3: RunningS3rver | null): Record<string, string> {
  const own = new URL(u.own);
  const ownKey = srv.node.deps.blobs.keyFromUrl(u.own)!;
  const theirKey = srv.node.deps.blobs.keyFromUrl(u.otherTenant)!;
  const base = u.own.slice(0, u.own.length - own.pathname.length + own.pathname.indexOf('/uploads/'));
  const ownPrefix = ownKey.split('/').slice(0, 3).join('/');
  const theirRest = theirKey.split('/').slice(1).join('/'); // TENANT02/ALIPUB0000002-default/<uuid>/<file>
  const by = bystander.origin;
  const path = own.pathname;
  const out: Record<string, string> = {
    'another tenant\'s upload': u.otherTenant,
    'another app of the same tenant': u.otherApp,
    'another workspace of the same app': u.otherWorkspace,
    'bystander on loopback, our key path': `${by}${path}`,
    'bystander via localhost': `http://localhost:${bystander.port}${path}`,
    'bystander via decimal IP': `http://2130706433:${bystander.port}${path}`,
    'bystander via hex IP': `http://0x7f000001:${bystander.port}${path}`,
    'bystander via [::ffff:127.0.0.1]': `http://[::ffff:127.0.0.1]:${bystander.port}${path}`,
    'bystander, scheme-relative': `//127.0.0.1:${bystander.port}${path}`,
    'bystander, upper-case scheme': `HTTP://127.0.0.1:${bystander.port}${path}`,
    'bystander, leading space': ` ${by}${path}`,
    'cloud metadata': 'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
    'cloud metadata (decimal)': 'http://2852039166/latest/meta-data/',
    'file: /etc/passwd': 'file:///etc/passwd',
    'file: our own object on disk': `file://${join(srv.node.deps.config.dataDir, 'blobs', srv.node.deps.config.storage.bucket, ...ownKey.split('/'))}`,
    'ftp: to the bystander': `ftp://127.0.0.1:${bystander.port}/${fileName(k)}`,
    'data: URL': `data:application/octet-stream;base64,${payload(k).toString('base64').slice(0, 1500)}`,
    'gopher: to the bystander': `gopher://127.0.0.1:${bystander.port}/_GET%20/${fileName(k)}%20HTTP/1.0%0D%0A%0D%0A`,
    'javascript:': 'javascript:fetch("http://127.0.0.1/")',
    'user-info: our host @ bystander': `http://${own.host}@127.0.0.1:${bystander.port}${path}`,
    'user-info on our own URL': u.own.replace('://', '://user:pw@'),
    'encoded traversal %2e%2e to the other tenant': `${base}/${ownPrefix}/%2e%2e/%2e%2e/${theirRest}`,
    'encoded traversal ..%2f to the other tenant': `${base}/${ownPrefix}/..%2f..%2f${theirRest.split('/').join('%2f')}`,
    'plain ../ traversal to the other tenant': `${base}/${ownPrefix}/../../${theirRest}`,
    'double-encoded traversal': `${base}/${ownPrefix}/%252e%252e/%252e%252e/${theirRest}`,
    'backslash traversal': `${base}/${ownPrefix}/..\\..\\${theirRest.split('/').join('\\')}`,
    'our URL with a fragment': `${u.own}#x`,
    'our URL with a foreign query': `${u.own}?redirect=${encodeURIComponent(by)}`,
    'our path on another port': `http://${own.hostname}:${bystander.port}${path}`,
  };
  if (s3) {
    out['another bucket'] = u.otherBucket!;
    out['a bucket whose name starts with ours'] = `${s3.endpoint}/${s3.bucket}-evil/${ownKey}`;
    out['another bucket, virtual-host style'] = `http://other-bucket.127.0.0.1:${new URL(s3.endpoint).port}/${ownKey}`;
  } else {
    out['another store path'] = `${srv.url}/_storage/other/${ownKey}`;
    out['our store path, dot segment'] = `${srv.url}/_storage/obj/./${ownKey}`;
  }
  return out;
}

async function counts(srv: TestServer) {
  const k = srv.node.deps.db.knex;
  const one = async (t: string) => Number(((await k(t).count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n);
  return { rsaKeys: await one('rsa_keys'), resources: await one('nebula_resources'), entries: await one('whitelist_entries') };
}

for (const driver of ['local', 's3'] as const) {
  describe(`foreign URLs (${driver} driver)`, () => {
    let srv: TestServer;
    let s3: RunningS3rver | null = null;
    let whitelistId: string;
    const uploads = {} as Record<Kind, Uploads>;

    beforeAll(async () => {
      s3 = driver === 's3' ? await startS3rver() : null;
      srv = await startTestServer({ ...(s3?.env ?? {}), MCUBE_JANITOR_INTERVAL_SEC: '0' });
      const call = mcube(srv);
      expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
      expect((await call('CreateMcubeNebulaApp', { H5Id: H5, H5Name: 'foreign' })).ResultCode).toBe('OK');
      whitelistId = (await call('CreateMcubeWhitelist', { WhiteListName: 'foreign-urls', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;

      const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
      await tenants.ensureTenant('TENANT02');
      await tenants.ensureApp('TENANT02', 'ALIPUB0000002');
      await tenants.ensureWorkspace('ALIPUB0000002', 'default');
      const theirKey = await tenants.createAccessKey('TENANT02');
      await tenants.ensureApp(TEST_CREDS.tenantId, 'ALIPUB0000003');
      await tenants.ensureWorkspace('ALIPUB0000003', 'default');
      await tenants.ensureWorkspace(TEST_CREDS.appId, 'ws2');
      const theirs = mcube(srv, { accessKeyId: theirKey.id, accessKeySecret: theirKey.secret, appId: 'ALIPUB0000002', workspaceId: 'default', tenantId: 'TENANT02' });
      const otherApp = mcube(srv, { ...TEST_CREDS, appId: 'ALIPUB0000003' });
      const otherWs = mcube(srv, { ...TEST_CREDS, workspaceId: 'ws2' });
      const otherBucket = s3 ? await createBlobStore(loadConfig({ ...srv.env.env, ...s3.env, MCUBE_S3_BUCKET: 'other-bucket' }), createLogger('silent')) : null;
      for (const k of ['pem', 'zip', 'txt'] as Kind[]) {
        const own = await uploadFile(call, fileName(k), payload(k));
        const ownKey = srv.node.deps.blobs.keyFromUrl(own)!;
        let inOtherBucket: string | null = null;
        if (otherBucket && s3) {
          // the very same key, in a bucket that is not ours
          await otherBucket.put(ownKey, payload(k));
          inOtherBucket = `${s3.endpoint}/other-bucket/${ownKey}`;
        }
        uploads[k] = {
          own,
          otherTenant: await uploadFile(theirs, fileName(k), payload(k)),
          otherApp: await uploadFile(otherApp, fileName(k), payload(k)),
          otherWorkspace: await uploadFile(otherWs, fileName(k), payload(k)),
          otherBucket: inOtherBucket,
        };
      }
      await otherBucket?.close?.();
    }, 120_000);

    afterAll(async () => {
      await srv?.close();
      await s3?.close();
    });

    const api = () => openapiCore(srv.host, TEST_CREDS, undefined, { readTimeout: 60_000 });
    let version = 0;
    const actions: Array<{ action: string; kind: Kind; params: (url: string) => Record<string, unknown> }> = [
      { action: 'UploadMcubeRsaKey', kind: 'pem', params: (url) => ({ FileUrl: url, OnexFlag: true }) },
      {
        action: 'CreateMcubeNebulaResource',
        kind: 'zip',
        params: (url) => ({
          H5Id: H5, H5Name: 'foreign', H5Version: `1.0.0.${++version}`, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
          FileUrl: url, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
        }),
      },
      { action: 'UpdateMcubeWhitelist', kind: 'txt', params: (url) => ({ Id: whitelistId, OssUrl: url, OnexFlag: true }) },
    ];

    for (const a of actions) {
      it(`${a.action} refuses every foreign URL and fetches nothing`, async () => {
        const before = await counts(srv);
        const seenBefore = bystander.connections() + bystander.bytesSent();
        const accepted: string[] = [];
        const notRefused: string[] = [];
        const call = api();
        for (const [name, url] of Object.entries(foreignUrls(srv, uploads[a.kind], a.kind, s3))) {
          fig.add('inputsTried');
          const r = await call(a.action, { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId, ...a.params(url) }).then(
            (x) => ({ status: x.statusCode as number, code: x.body.ResultCode as string, msg: x.body.ResultMessage as string }),
            (e: any) => ({ status: Number(e.statusCode ?? 0), code: String(e.code ?? e.message), msg: String(e.message) }),
          );
          if (r.status >= 500 || r.status === 0) fig.add(r.status === 0 && /timeout/i.test(r.code) ? 'hangs' : 'crashes');
          if (r.code === 'OK') {
            fig.add('forgedOrForeignAccepted');
            accepted.push(name);
          } else if (!(r.status === 200 && REFUSALS.includes(r.code)) && !(r.status === 400 && r.code === 'InvalidParameter')) {
            // a business refusal of the URL, or (for values over the declared length) a 400 before the handler
            fig.check('notRefusedAsBadUrl', 1);
            notRefused.push(`${name}: ${r.status} ${r.code} ${r.msg}`);
          }
        }
        const after = await counts(srv);
        const written = Math.abs(after.rsaKeys - before.rsaKeys) + Math.abs(after.resources - before.resources) + Math.abs(after.entries - before.entries);
        fig.add('orphansLeft', written);
        fig.add('bytesFetchedFromForeignUrls', bystander.connections() + bystander.bytesSent() - seenBefore);
        expect(accepted).toEqual([]);
        expect(notRefused).toEqual([]);
        expect(after).toEqual(before);
        expect(bystander.connections()).toBe(0);
        expect(bystander.requests()).toBe(0);
        expect(bystander.bytesSent()).toBe(0);
      }, 120_000);
    }

    it('the same calls succeed with the caller\'s own uploads (the refusals were for the URLs alone)', async () => {
      const call = api();
      for (const a of actions) {
        const r = await call(a.action, { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId, ...a.params(uploads[a.kind].own) });
        expect(r.body.ResultCode, `${a.action}: ${JSON.stringify(r.body)}`).toBe('OK');
      }
      const errors = srv.logs.filter((l) => /"level":"error"/.test(l));
      fig.add('crashes', errors.length);
      expect(errors).toEqual([]);
    }, 60_000);
  });
}

describe('figures', () => {
  it('zero in every column but inputs tried', () => {
    fig.expectClean();
  });
});
