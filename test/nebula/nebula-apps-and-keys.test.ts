import { createPublicKey } from 'node:crypto';
import { runJanitor } from '../../packages/server/src/features/janitor/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { countRows, mcube, publishFixture, rsaKeyPair, uploadFile, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';

let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer();
  call = mcube(srv);
});
afterAll(async () => {
  await srv?.close();
});

describe('RSA key', () => {
  it('ExistMcubeRsaKey answers "fail" with Success false until a key is uploaded, then "success"', async () => {
    const before = await call('ExistMcubeRsaKey');
    expect(before.ResultCode).toBe('OK');
    expect(before.CheckRsaKeyResult).toEqual({ Data: 'fail', ResultMsg: '', Success: false });

    const { privatePem, publicPem } = rsaKeyPair();
    const fileUrl = await uploadFile(call, 'private_key.pem', Buffer.from(privatePem));
    const up = await call('UploadMcubeRsaKey', { FileUrl: fileUrl, OnexFlag: true });
    expect(up.ResultCode).toBe('OK');
    expect(up.UploadRsaResult).toEqual({ Data: 'processed successfully', ResultMsg: '', Success: true });

    // no private key is left lying in the bucket
    expect(await srv.node.deps.blobs.head(srv.node.deps.blobs.keyFromUrl(fileUrl)!)).toBeNull();

    const after = await call('ExistMcubeRsaKey');
    expect(after.CheckRsaKeyResult).toEqual({ Data: 'success', ResultMsg: '', Success: true });

    // Stored sealed, bound to app and workspace; the public half and size beside it.
    const row = await srv.node.deps.db.knex('rsa_keys').where({ app_id: srv.creds.appId, workspace_id: srv.creds.workspaceId }).first();
    expect(row.private_key_enc).not.toContain('PRIVATE KEY');
    expect(Number(row.bits)).toBe(2048);
    expect(createPublicKey(row.public_key_pem).export({ type: 'spki', format: 'pem' })).toBe(publicPem);
    const opened = srv.node.deps.box.open(row.private_key_enc, `rsa:${srv.creds.appId}:${srv.creds.workspaceId}`).toString();
    expect(opened).toContain('BEGIN PRIVATE KEY');
    expect(() => srv.node.deps.box.open(row.private_key_enc, `rsa:${srv.creds.appId}:other`)).toThrow();
  });

  it('refuses a file that is not an RSA private key, and a missing or foreign FileUrl, changing nothing', async () => {
    const before = (await srv.node.deps.db.knex('rsa_keys').first()).private_key_enc;
    const { publicPem } = rsaKeyPair(1024);
    const pub = await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'public.pem', Buffer.from(publicPem)), OnexFlag: true });
    expect(pub.ResultCode).toBe('InvalidRsaKey');
    expect(pub.UploadRsaResult.Success).toBe(false);
    expect(pub.ResultMessage).toMatch(/FileUrl/);
    const junkUrl = await uploadFile(call, 'junk.pem', Buffer.from('hello'));
    const junk = await call('UploadMcubeRsaKey', { FileUrl: junkUrl, OnexFlag: true });
    expect(junk.ResultCode).toBe('InvalidRsaKey');
    // a refused file that holds no private key (a zip given by mistake) is left as it was
    expect(await srv.node.deps.blobs.head(srv.node.deps.blobs.keyFromUrl(junkUrl)!)).not.toBeNull();
    // one that does (cut short, so refused) is removed all the same: no private key stays in the bucket
    const lines = rsaKeyPair(1024).privatePem.trim().split('\n');
    const cutUrl = await uploadFile(call, 'cut.pem', Buffer.from([...lines.slice(0, 6), lines[lines.length - 1]].join('\n') + '\n'));
    expect((await call('UploadMcubeRsaKey', { FileUrl: cutUrl, OnexFlag: true })).ResultCode).toBe('InvalidRsaKey');
    expect(await srv.node.deps.blobs.head(srv.node.deps.blobs.keyFromUrl(cutUrl)!)).toBeNull();
    // required on the wire (reference 3.5): absent is a protocol error, blank a business one
    const missing = await call('UploadMcubeRsaKey', { OnexFlag: true }).catch((e) => e);
    expect(missing.code).toBe('MissingParameter');
    const blank = await call('UploadMcubeRsaKey', { FileUrl: ' ', OnexFlag: true });
    expect(blank.ResultCode).toBe('InvalidFileUrl');
    expect(blank.ResultMessage).toMatch(/^FileUrl/);
    const foreign = await call('UploadMcubeRsaKey', { FileUrl: 'https://example.com/key.pem', OnexFlag: true });
    expect(foreign.ResultCode).toBe('InvalidFileUrl');
    const big = await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'big.pem', Buffer.alloc(70 * 1024, 65)), OnexFlag: true });
    expect(big.ResultCode).toBe('FileTooLarge');
    expect((await srv.node.deps.db.knex('rsa_keys').first()).private_key_enc).toBe(before);
    expect(await countRows(srv, 'rsa_keys')).toBe(1);
  });
});

describe('RSA key file when the storage refuses to delete it', () => {
  it('the uploaded private key is handed to the janitor, which removes it at its next run', async () => {
    const { blobs } = srv.node.deps;
    const fileUrl = await uploadFile(call, 'private_key.pem', Buffer.from(rsaKeyPair(1024).privatePem));
    const key = blobs.keyFromUrl(fileUrl)!;
    // a storage fault injected into the node's own store: the delete fails once, as an S3 outage makes it
    const realDelete = blobs.delete.bind(blobs);
    blobs.delete = async () => {
      throw new Error('injected: storage refused the delete');
    };
    try {
      expect((await call('UploadMcubeRsaKey', { FileUrl: fileUrl, OnexFlag: true })).ResultCode).toBe('OK');
    } finally {
      blobs.delete = realDelete;
    }
    expect(await blobs.head(key)).not.toBeNull();
    expect(await srv.node.deps.db.knex('blobs').where({ key }).first('state')).toEqual({ state: 'deleted' });
    await runJanitor(srv.node.deps);
    expect(await blobs.head(key)).toBeNull();
    expect(await countRows(srv, 'blobs', { key })).toBe(0);
  });
});

describe('H5 apps', () => {
  it('creates, lists with keyword and paging, and refuses duplicates', async () => {
    for (const [id, name] of [['30000001', 'Shop'], ['30000002', 'Shopping cart'], ['30000003', 'Profile']]) {
      const r = await call('CreateMcubeNebulaApp', { H5Id: id, H5Name: name });
      expect(r.ResultCode).toBe('OK');
      expect(r.CreateNebulaAppResult).toMatchObject({ Success: true, ResultMsg: '' });
      expect(r.CreateNebulaAppResult.RequestId).toBe(r.RequestId);
    }
    const dup = await call('CreateMcubeNebulaApp', { H5Id: '30000001', H5Name: 'again' });
    expect(dup.ResultCode).toBe('NebulaAppExists');
    expect(dup.CreateNebulaAppResult).toMatchObject({ Success: false, ErrorCode: 'NebulaAppExists' });
    expect(dup.ResultMessage).toMatch(/H5Id/);

    const shop = await call('ListMcubeNebulaApps', { Keyword: 'shop' });
    expect(shop.ListMcubeNebulaAppsResult).toMatchObject({
      Success: true,
      TotalCount: 2,
      CurrentPage: 1,
      HasMore: false,
      NebulaAppInfos: [{ H5Id: '30000001', H5Name: 'Shop' }, { H5Id: '30000002', H5Name: 'Shopping cart' }],
    });
    const byId = await call('ListMcubeNebulaApps', { Keyword: '0003' });
    expect(byId.ListMcubeNebulaAppsResult.NebulaAppInfos).toEqual([{ H5Id: '30000003', H5Name: 'Profile' }]);
    const literal = await call('ListMcubeNebulaApps', { Keyword: '%' });
    expect(literal.ListMcubeNebulaAppsResult.TotalCount).toBe(0);
    // no id or name holds "_": as a wildcard it would match all three
    const underscore = await call('ListMcubeNebulaApps', { Keyword: '_' });
    expect(underscore.ListMcubeNebulaAppsResult.TotalCount).toBe(0);
    const page2 = await call('ListMcubeNebulaApps', { Keyword: '3000000', PageNum: 2, PageSize: 2 });
    expect(page2.ListMcubeNebulaAppsResult).toMatchObject({ TotalCount: 3, CurrentPage: 2, PageSize: 2, HasMore: false, NebulaAppInfos: [{ H5Id: '30000003' }] });
    const page1 = await call('ListMcubeNebulaApps', { Keyword: '3000000', PageNum: 1, PageSize: 2 });
    expect(page1.ListMcubeNebulaAppsResult.HasMore).toBe(true);
  });

  it('refuses ids that are not 8 digits or are built into the SDK, naming H5Id, and stores nothing', async () => {
    const before = await countRows(srv, 'nebula_apps');
    for (const bad of ['1234567', '123456789', 'abcdefgh', '1234 678', '', '20000196', '66666692', '68687029', '68687209']) {
      const r = await call('CreateMcubeNebulaApp', { H5Id: bad, H5Name: 'x' });
      expect(r.ResultCode, bad).toBe('InvalidH5Id');
      expect(r.ResultMessage, bad).toMatch(/^H5Id/);
    }
    const noName = await call('CreateMcubeNebulaApp', { H5Id: '30000009' });
    expect(noName.ResultCode).toBe('InvalidH5Name');
    expect(await countRows(srv, 'nebula_apps')).toBe(before);
  });

  it('accepts ids starting 666666 or 20000 with a warning in ResultMsg and the log', async () => {
    for (const id of ['66666601', '20000777']) {
      const r = await call('CreateMcubeNebulaApp', { H5Id: id, H5Name: 'warned' });
      expect(r.ResultCode).toBe('OK');
      expect(r.CreateNebulaAppResult.Success).toBe(true);
      expect(r.CreateNebulaAppResult.ResultMsg).toMatch(new RegExp(`Warning: H5Id ${id} starts with`));
      expect(srv.logs.some((l) => l.includes('"level":"warn"') && l.includes(id))).toBe(true);
    }
  });

  it('DeleteMcubeNebulaApp removes the app, its packages, tasks, admissions and stored files', async () => {
    const p = await publishFixture(srv, { h5Id: '40000001', version: '1.0.0' });
    await publishFixture(srv, { h5Id: '40000001', version: '1.0.1' });
    const keep = await publishFixture(srv, { h5Id: '40000002', version: '1.0.0' });
    const t = await p.call('CreateMcubeNebulaTask', { Id: 0, PackageId: p.resourceId, PublishType: 2, PublishMode: 2, GreyNum: 5, GreyEndtimeData: new Date(Date.now() + 86400_000).toISOString().replace('T', ' ').slice(0, 19) });
    const taskId = Number(t.CreateMcubeNebulaTaskResult.NebulaTaskId);
    await srv.node.deps.db.knex('grey_admissions').insert({ task_id: taskId, user_key: 'u1', created_at: Date.now() });
    const knex = srv.node.deps.db.knex;
    const rows = await knex('nebula_resources').where({ h5_id: '40000001' }).select('amr_key', 'json_key');
    const keys = rows.flatMap((r) => [r.amr_key, r.json_key]);
    for (const k of keys) expect(await srv.node.deps.blobs.head(k)).not.toBeNull();
    const stampBefore = Number((await knex('change_stamps').first('stamp')).stamp);

    const del = await call('DeleteMcubeNebulaApp', { H5Id: '40000001' });
    expect(del.ResultCode).toBe('OK');
    expect(del.DeleteMcubeNebulaAppResult).toMatchObject({ Success: true, ResultMsg: '' });

    expect(await countRows(srv, 'nebula_apps', { h5_id: '40000001' })).toBe(0);
    expect(await countRows(srv, 'nebula_resources', { h5_id: '40000001' })).toBe(0);
    expect(await countRows(srv, 'nebula_tasks', { h5_id: '40000001' })).toBe(0);
    expect(await countRows(srv, 'grey_admissions', { task_id: taskId })).toBe(0);
    for (const k of keys) {
      expect(await srv.node.deps.blobs.head(k)).toBeNull();
      expect(await knex('blobs').where({ key: k, state: 'live' }).first()).toBeUndefined();
    }
    expect(Number((await knex('change_stamps').first('stamp')).stamp)).toBeGreaterThan(stampBefore);
    // the other H5 app is untouched
    const other = await call('ListMcubeNebulaResources', { H5Id: keep.h5Id });
    expect(other.ListMcubeNebulaResourceResult.TotalCount).toBe(1);

    const again = await call('DeleteMcubeNebulaApp', { H5Id: '40000001' });
    expect(again.ResultCode).toBe('NebulaAppNotFound');
    expect(again.ResultMessage).toMatch(/^H5Id/);
  });

  it('another tenant cannot reach this app (Forbidden) and sees none of its H5 apps', async () => {
    const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await tenants.ensureTenant('TENANT02');
    await tenants.ensureApp('TENANT02', 'ALIPUB0000002');
    await tenants.ensureWorkspace('ALIPUB0000002', 'default');
    const key = await tenants.createAccessKey('TENANT02');
    const other = openapiCore(srv.host, { accessKeyId: key.id, accessKeySecret: key.secret });
    for (const [action, body] of [
      ['ListMcubeNebulaApps', {}],
      ['CreateMcubeNebulaApp', { H5Id: '50000001', H5Name: 'x' }],
      ['DeleteMcubeNebulaApp', { H5Id: '30000001' }],
      ['ListMcubeNebulaResources', {}],
      ['ExistMcubeRsaKey', {}],
    ] as const) {
      const err: any = await other(action, { AppId: srv.creds.appId, WorkspaceId: 'default', TenantId: 'TENANT02', ...body }).catch((e) => e);
      expect(err.statusCode, action).toBe(403);
      expect(err.code, action).toBe('Forbidden');
    }
    expect(await countRows(srv, 'nebula_apps', { h5_id: '30000001' })).toBe(1);
    const own = mcube(srv, { accessKeyId: key.id, accessKeySecret: key.secret, appId: 'ALIPUB0000002', workspaceId: 'default', tenantId: 'TENANT02' });
    const list = await own('ListMcubeNebulaApps');
    expect(list.ListMcubeNebulaAppsResult.TotalCount).toBe(0);
    expect((await own('ExistMcubeRsaKey')).CheckRsaKeyResult.Data).toBe('fail');
  });
});
