import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, makeH5Zip, mcube, publishFixture, uploadFile, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let call: Call;
let zipUrl: string;
const H5 = '60000001';

beforeAll(async () => {
  srv = await startTestServer();
  call = mcube(srv);
  await call('CreateMcubeVhost', { Vhost: 'h5app.com' });
  zipUrl = await uploadFile(call, `${H5}.zip`, await makeH5Zip(H5));
});
afterAll(async () => {
  await srv?.close();
});

const valid = (over: Record<string, unknown> = {}) => ({
  H5Id: H5,
  H5Name: 'rules',
  H5Version: '1.0.0.1',
  ResourceType: 1,
  Platform: 'all',
  ClientVersionMin: '1.0.0;1.0.0',
  ClientVersionMax: '',
  FileUrl: zipUrl,
  MainUrl: '/www/index.html',
  ExtendInfo: '',
  AutoInstall: 0,
  InstallType: 1,
  OnexFlag: true,
  ...over,
});

const TABLES = ['nebula_apps', 'nebula_resources', 'nebula_tasks', 'blobs', 'change_stamps'];
async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) out[t] = await countRows(srv, t);
  return out;
}

describe('CreateMcubeNebulaResource refuses every broken rule, naming the field, and stores nothing', () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp?]> = [
    ['H5Id missing', { H5Id: '' }, 'H5Id'],
    ['H5Id 7 digits', { H5Id: '1234567' }, 'H5Id'],
    ['H5Id letters', { H5Id: '1234567a' }, 'H5Id'],
    ['H5Id reserved 20000196', { H5Id: '20000196' }, 'H5Id', /reserved/],
    ['H5Id reserved 66666692', { H5Id: '66666692' }, 'H5Id', /reserved/],
    ['H5Id reserved 68687029', { H5Id: '68687029' }, 'H5Id', /reserved/],
    ['H5Id reserved 68687209', { H5Id: '68687209' }, 'H5Id', /reserved/],
    ['H5Version missing', { H5Version: '' }, 'H5Version'],
    ['H5Version not dotted numeric', { H5Version: '1.0-beta' }, 'H5Version'],
    ['H5Version with a trailing dot', { H5Version: '1.0.' }, 'H5Version'],
    ['ResourceType missing', { ResourceType: undefined }, 'ResourceType'],
    ['ResourceType 2', { ResourceType: 2 }, 'ResourceType'],
    ['Platform missing', { Platform: '' }, 'Platform'],
    ['Platform unknown', { Platform: 'harmony' }, 'Platform'],
    ['ClientVersionMin missing', { ClientVersionMin: '' }, 'ClientVersionMin'],
    ['ClientVersionMin without semicolon', { ClientVersionMin: '1.0.0' }, 'ClientVersionMin'],
    ['ClientVersionMin one side for all', { ClientVersionMin: ';1.0.0' }, 'ClientVersionMin'],
    ['ClientVersionMin iOS side for Android', { Platform: 'Android', ClientVersionMin: '1.0.0;1.0.0' }, 'ClientVersionMin'],
    ['ClientVersionMin Android side for iOS', { Platform: 'iOS', ClientVersionMin: ';1.0.0' }, 'ClientVersionMin'],
    ['ClientVersionMin not a version', { ClientVersionMin: '1.x;1.0' }, 'ClientVersionMin'],
    ['ClientVersionMax one side for all', { ClientVersionMax: '2.0.0;' }, 'ClientVersionMax'],
    ['ClientVersionMax below min', { ClientVersionMin: '2.0.0;1.0.0', ClientVersionMax: '10.0.0;0.9' }, 'ClientVersionMax', /below/],
    ['ClientVersionMax iOS side for Android', { Platform: 'Android', ClientVersionMin: ';1.0', ClientVersionMax: '2.0;3.0' }, 'ClientVersionMax'],
    ['ClientVersionMax two semicolons', { ClientVersionMax: '1;2;3' }, 'ClientVersionMax'],
    ['FileUrl missing', { FileUrl: '' }, 'FileUrl'],
    ['FileUrl foreign', { FileUrl: 'https://example.com/a.zip' }, 'FileUrl'],
    ['MainUrl relative', { MainUrl: 'www/index.html' }, 'MainUrl'],
    ['MainUrl not .html', { MainUrl: '/www/index.htm' }, 'MainUrl'],
    ['MainUrl with a hyphen', { MainUrl: '/www/my-page.html' }, 'MainUrl'],
    ['MainUrl query', { MainUrl: '/www/index.html?a=1' }, 'MainUrl'],
    ['MainUrl not in the package', { MainUrl: '/www/missing.html' }, 'MainUrl', /not a file of the uploaded package/],
    ['AutoInstall missing', { AutoInstall: undefined }, 'AutoInstall'],
    ['AutoInstall 2', { AutoInstall: 2 }, 'AutoInstall'],
    ['InstallType missing', { InstallType: undefined }, 'InstallType'],
    ['InstallType 3', { InstallType: 3 }, 'InstallType'],
    ['RepeatNebula 2', { RepeatNebula: 2 }, 'RepeatNebula'],
    ['RepeatNebula missing for a global package', { ResourceType: 0, MainUrl: '' }, 'RepeatNebula'],
    ['ExtendInfo not JSON', { ExtendInfo: '{asyncReqRate:1}' }, 'ExtendInfo'],
    ['ExtendInfo an array', { ExtendInfo: '[1]' }, 'ExtendInfo'],
    ['ExtendInfo asyncReqRate too high', { ExtendInfo: '{"asyncReqRate":"86401"}' }, 'ExtendInfo', /86400/],
    ['ExtendInfo asyncReqRate negative', { ExtendInfo: '{"asyncReqRate":-1}' }, 'ExtendInfo'],
    ['ExtendInfo asyncReqRate not a number', { ExtendInfo: '{"asyncReqRate":"soon"}' }, 'ExtendInfo'],
    // the short key is delivered as the rate too (launchParams.asyncReqRate), and clients read launchParams.ar
    ['ExtendInfo ar too high', { ExtendInfo: '{"ar":"99999999"}' }, 'ExtendInfo', /ar "99999999" must be a whole number of seconds from 0 to 86400/],
    ['ExtendInfo ar not a number', { ExtendInfo: '{"ar":"abc"}' }, 'ExtendInfo'],
    ['ExtendInfo launchParams.ar negative', { ExtendInfo: '{"launchParams":{"ar":"-5"}}' }, 'ExtendInfo', /launchParams\.ar/],
    ['ExtendInfo launchParams.asyncReqRate too high', { ExtendInfo: '{"launchParams":{"asyncReqRate":86401}}' }, 'ExtendInfo'],
    ['ExtendInfo launchParams not an object', { ExtendInfo: '{"launchParams":"oops"}' }, 'ExtendInfo', /launchParams "oops" must be a JSON object/],
    ['ExtendInfo launchParams null', { ExtendInfo: '{"launchParams":null}' }, 'ExtendInfo'],
    ['Vhost not a domain', { Vhost: 'not a domain' }, 'Vhost'],
  ];
  for (const [name, over, field, extra] of cases) {
    it(name, async () => {
      const before = await counts();
      const r = await call('CreateMcubeNebulaResource', valid(over));
      expect(r.ResultCode).not.toBe('OK');
      expect(r.CreateMcubeNebulaResourceReslult).toMatchObject({ Success: false, ErrorCode: r.ResultCode });
      expect(r.CreateMcubeNebulaResourceReslult.NebulaResourceId).toBeUndefined();
      expect(r.ResultMessage).toMatch(new RegExp(`^${field}\\b`));
      if (extra) expect(r.ResultMessage).toMatch(extra);
      expect(await counts()).toEqual(before);
    });
  }

  it('a .zip whose top folder is not the H5 id is refused with the builder\'s code, nothing stored', async () => {
    const before = await counts();
    const wrong = await uploadFile(call, 'wrong.zip', await makeH5Zip('99999999'));
    const r = await call('CreateMcubeNebulaResource', valid({ FileUrl: wrong }));
    expect(r.ResultCode).toBe('BadLayout');
    expect(r.ResultMessage).toMatch(/^FileUrl/);
    const notZip = await call('CreateMcubeNebulaResource', valid({ FileUrl: await uploadFile(call, 'x.zip', Buffer.from('not a zip at all')) }));
    expect(notZip.ResultCode).toBe('NotAZip');
    expect(await counts()).toEqual(before);
  });

  it('a package cannot be created without a vhost', async () => {
    const bare = await startTestServer();
    try {
      const c = mcube(bare);
      const url = await uploadFile(c, 'a.zip', await makeH5Zip(H5));
      const r = await c('CreateMcubeNebulaResource', valid({ FileUrl: url }));
      expect(r.ResultCode).toBe('VhostNotConfigured');
      expect(r.ResultMessage).toMatch(/^Vhost/);
      expect(await countRows(bare, 'nebula_resources')).toBe(0);
      expect(await countRows(bare, 'blobs', { state: 'live' })).toBe(0);
    } finally {
      await bare.close();
    }
  });
});

describe('CreateMcubeNebulaResource happy paths', () => {
  it('answers CreateMcubeNebulaResourceReslult with a string id; the app is auto-created; lists and gets it', async () => {
    const r = await call('CreateMcubeNebulaResource', valid({ Platform: 'ALL', ExtendInfo: '{"asyncReqRate":"1800"}', ClientVersionMax: '9.0;9.0' }));
    expect(r.ResultCode).toBe('OK');
    expect(Object.keys(r).sort()).toEqual(['CreateMcubeNebulaResourceReslult', 'RequestId', 'ResultCode', 'ResultMessage']);
    const result = r.CreateMcubeNebulaResourceReslult;
    // no RSA key in this workspace: built, and said to be unsigned
    expect(result).toEqual({ NebulaResourceId: expect.stringMatching(/^\d+$/), Success: true, ResultMsg: expect.stringMatching(/^Built unsigned/), ErrorCode: '', RequestId: r.RequestId });
    const id = Number(result.NebulaResourceId);

    const apps = await call('ListMcubeNebulaApps', { Keyword: H5 });
    expect(apps.ListMcubeNebulaAppsResult.NebulaAppInfos).toEqual([{ H5Id: H5, H5Name: 'rules' }]);
    expect((await srv.node.deps.db.knex('nebula_apps').where({ h5_id: H5 }).first()).resource_type).toBe(1);

    const list = await call('ListMcubeNebulaResources', { H5Id: H5, PageNum: 1, PageSize: 10 });
    expect(list.ListMcubeNebulaResourceResult).toMatchObject({ Success: true, TotalCount: 1, CurrentPage: 1, PageSize: 10, HasMore: false });
    const item = list.ListMcubeNebulaResourceResult.NebulaResourceInfo[0];
    expect(item).toMatchObject({
      Id: id,
      AppCode: `${srv.creds.appId}-${srv.creds.workspaceId}`,
      H5Id: H5,
      H5Name: 'rules',
      H5Version: '1.0.0.1',
      Platform: 'all',
      ResourceType: '1',
      ClientVersionMin: '1.0.0;1.0.0',
      ClientVersionMax: '9.0;9.0',
      MainUrl: '/www/index.html',
      ExtendInfo: '{"asyncReqRate":"1800"}',
      AutoInstall: 0,
      InstallType: 1,
      PublishPeriod: 0,
      Vhost: `https://${H5}.h5app.com`,
      Md5: expect.stringMatching(/^[0-9a-f]{32}$/),
      FileSize: expect.stringMatching(/^\d+$/),
      GmtCreate: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      GmtModified: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
      ReleaseVersion: expect.stringMatching(/^\d{14}$/),
    });
    const amr = await fetch(item.DownloadUrl);
    expect(amr.status).toBe(200);
    const bytes = Buffer.from(await amr.arrayBuffer());
    expect(String(bytes.length)).toBe(item.FileSize);
    const { createHash } = await import('node:crypto');
    expect(createHash('md5').update(bytes).digest('hex')).toBe(item.Md5);

    const h5json: any = await (await fetch(item.Memo)).json();
    expect(h5json).toMatchObject({ resultCode: 100, data: [{ app_id: H5, version: '1.0.0.1', main_url: '/www/index.html', vhost: `https://${H5}.h5app.com`, auto_install: 0, installType: 1, extend_info: { asyncReqRate: '1800', launchParams: { asyncReqRate: '1800' } } }] });
    // both are signed download addresses of the same object (their expiry may differ by the seconds between the calls)
    expect(h5json.data[0].package_url.split('?')[0]).toBe(item.DownloadUrl.split('?')[0]);

    const got = await call('GetMcubeNebulaResource', { Id: String(id) });
    expect(got.GetNebulaResourceResult).toMatchObject({ Success: true, NebulaResourceInfo: { Id: id, H5Version: '1.0.0.1', ResourceType: '1' } });
    const none = await call('GetMcubeNebulaResource', { Id: '999999' });
    expect(none.ResultCode).toBe('NebulaResourceNotFound');
  });

  it('H5Version is unique within the H5 app, also when written differently (1.0.0.1 = 1.0.0.1.0)', async () => {
    const before = await counts();
    for (const v of ['1.0.0.1', '1.0.0.1.0']) {
      const r = await call('CreateMcubeNebulaResource', valid({ H5Version: v }));
      expect(r.ResultCode, v).toBe('H5VersionExists');
      expect(r.ResultMessage).toMatch(/^H5Version/);
    }
    expect(await counts()).toEqual(before);
  });

  it('one resource type per H5 app, fixed by its first package', async () => {
    const before = await counts();
    const r = await call('CreateMcubeNebulaResource', valid({ H5Version: '1.0.0.2', ResourceType: 0, RepeatNebula: 0, MainUrl: '' }));
    expect(r.ResultCode).toBe('ResourceTypeMismatch');
    expect(r.ResultMessage).toMatch(/^ResourceType/);
    expect(await counts()).toEqual(before);
  });

  it('Platform is canonical whatever its case; single-platform client ranges; an explicit Vhost wins', async () => {
    const a = await call('CreateMcubeNebulaResource', valid({ H5Version: '1.0.1', Platform: 'android', ClientVersionMin: ';2.0', ClientVersionMax: ';3.0' }));
    expect(a.ResultCode).toBe('OK');
    const i = await call('CreateMcubeNebulaResource', valid({ H5Version: '1.0.2', Platform: 'IOS', ClientVersionMin: '2.0;', Vhost: 'https://cdn.example.org' }));
    expect(i.ResultCode).toBe('OK');
    const knex = srv.node.deps.db.knex;
    const ra = await knex('nebula_resources').where({ id: Number(a.CreateMcubeNebulaResourceReslult.NebulaResourceId) }).first();
    expect(ra).toMatchObject({ platform: 'Android', client_version_min: ';2.0', client_version_max: ';3.0' });
    // under a folder of this build (12 hex digits), then the vendor's <version>_<platform>/nebula/<id>_<version> tail
    expect(ra.amr_key).toMatch(new RegExp(`^pkg/${srv.creds.appId}/${srv.creds.workspaceId}/${H5}/[0-9a-f]{12}/1\\.0\\.1_android/nebula/${H5}_1\\.0\\.1\\.amr$`));
    expect(ra.json_key).toBe(ra.amr_key.replace(/\.amr$/, '.json'));
    const ri = await knex('nebula_resources').where({ id: Number(i.CreateMcubeNebulaResourceReslult.NebulaResourceId) }).first();
    expect(ri).toMatchObject({ platform: 'iOS', client_version_min: '2.0;', vhost: 'https://cdn.example.org' });
    // a version whose pages change origin is said so (not refused: moving a domain is legitimate)
    expect(a.CreateMcubeNebulaResourceReslult.ResultMsg ?? '').not.toMatch(/origin/);
    expect(i.CreateMcubeNebulaResourceReslult.ResultMsg).toContain(`This version is served under the Vhost given, the app's earlier versions under ${ra.vhost}: pages that change origin lose their local storage and cookies.`);
    for (const k of [ra.amr_key, ra.json_key, ri.amr_key, ri.json_key]) expect((await knex('blobs').where({ key: k }).first()).state).toBe('live');
  });

  it('a global resource package needs RepeatNebula and no MainUrl check', async () => {
    const G = '60000002';
    const zip = await makeH5Zip(G, { [`mcube-prod.mpaascloud.com/${srv.creds.appId}_${srv.creds.workspaceId}/common.js`]: 'var x = 1;' });
    const r = await call('CreateMcubeNebulaResource', valid({ H5Id: G, H5Name: 'global', ResourceType: 0, RepeatNebula: 1, MainUrl: '', FileUrl: await uploadFile(call, 'g.zip', zip) }));
    expect(r.ResultCode).toBe('OK');
    const app = await srv.node.deps.db.knex('nebula_apps').where({ h5_id: G }).first();
    expect(app.resource_type).toBe(0);
    const res = await srv.node.deps.db.knex('nebula_resources').where({ h5_id: G }).first();
    expect(res.repeat_nebula).toBe(1);
  });

  it('an id starting 666666 or 20000 is accepted with a warning in ResultMsg', async () => {
    const W = '66666688';
    const url = await uploadFile(call, 'w.zip', await makeH5Zip(W));
    const r = await call('CreateMcubeNebulaResource', valid({ H5Id: W, FileUrl: url }));
    expect(r.ResultCode).toBe('OK');
    expect(r.CreateMcubeNebulaResourceReslult.ResultMsg).toMatch(/^Warning: H5Id 66666688 starts with 666666/);
    expect(srv.logs.some((l) => l.includes('"level":"warn"') && l.includes(W))).toBe(true);
  });

  it('two concurrent creates of one version: one wins, the loser leaves the winner\'s files alone', async () => {
    const C = '60000003';
    const url = await uploadFile(call, 'c.zip', await makeH5Zip(C));
    const [a, b] = await Promise.all([
      call('CreateMcubeNebulaResource', valid({ H5Id: C, FileUrl: url })),
      call('CreateMcubeNebulaResource', valid({ H5Id: C, FileUrl: url })),
    ]);
    const codes = [a.ResultCode, b.ResultCode].sort();
    expect(codes).toEqual(['H5VersionExists', 'OK']);
    expect(await countRows(srv, 'nebula_resources', { h5_id: C })).toBe(1);
    const list = await call('ListMcubeNebulaResources', { H5Id: C });
    const item = list.ListMcubeNebulaResourceResult.NebulaResourceInfo[0];
    expect((await fetch(item.DownloadUrl)).status).toBe(200);
    expect((await fetch(item.Memo)).status).toBe(200);
    expect(await countRows(srv, 'blobs', { state: 'pending' })).toBe(0);
  });

  it('ListMcubeNebulaResources pages newest first', async () => {
    const p1 = await call('ListMcubeNebulaResources', { H5Id: H5, PageNum: 1, PageSize: 2 });
    expect(p1.ListMcubeNebulaResourceResult).toMatchObject({ TotalCount: 3, HasMore: true, CurrentPage: 1, PageSize: 2 });
    expect(p1.ListMcubeNebulaResourceResult.NebulaResourceInfo.map((r: { H5Version: string }) => r.H5Version)).toEqual(['1.0.2', '1.0.1']);
    const p2 = await call('ListMcubeNebulaResources', { H5Id: H5, PageNum: 2, PageSize: 2 });
    expect(p2.ListMcubeNebulaResourceResult).toMatchObject({ HasMore: false, CurrentPage: 2 });
    expect(p2.ListMcubeNebulaResourceResult.NebulaResourceInfo.map((r: { H5Version: string }) => r.H5Version)).toEqual(['1.0.0.1']);
  });
});

describe('publishFixture', () => {
  it('publishes a package in one call', async () => {
    const p = await publishFixture(srv, { h5Id: '60000009', version: '2.0' });
    expect(p.resourceId).toBeGreaterThan(0);
    expect(p.body.CreateMcubeNebulaResourceReslult.Success).toBe(true);
  });
});
