import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';

let srv: TestServer;
let call: ReturnType<typeof openapiCore>;
const changes: string[] = [];

beforeAll(async () => {
  srv = await startTestServer();
  call = openapiCore(srv.host, srv.creds);
  const deps = srv.node.deps;
  const forward = deps.onDeliveryChange;
  deps.onDeliveryChange = (appId, ws) => {
    changes.push(`${appId}/${ws}`);
    forward(appId, ws);
  };
});
afterAll(async () => {
  await srv?.close();
});

const common = () => ({ AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId });
const wl = async (action: string, body: Record<string, unknown>) => {
  const res = await call(action, { ...common(), ...body });
  expect(res.statusCode).toBe(200);
  return res.body;
};
const knex = () => srv.node.deps.db.knex;
const stamp = async () => Number((await knex()('change_stamps').where({ app_id: srv.creds.appId, workspace_id: srv.creds.workspaceId }).first('stamp'))?.stamp ?? 0);
const entries = async (id: number | string) =>
  (await knex()('whitelist_entries').where({ whitelist_id: Number(id) }).select('value').orderBy('value')).map((r: { value: string }) => r.value);
const create = async (name: string, type = 'normal') => {
  const body = await wl('CreateMcubeWhitelist', { WhiteListName: name, WhitelistType: type });
  expect(body.ResultCode).toBe('OK');
  return body.CreateWhitelistResult.WhitelistId as string;
};
const listed = async (name: string) => {
  const body = await wl('ListMcubeWhitelists', { WhitelistName: name, PageSize: 200 });
  return (body.ListWhitelistResult.Whitelists as any[]).find((w) => w.WhiteListName === name);
};

describe('CreateMcubeWhitelist and ListMcubeWhitelists', () => {
  it('answers the vendor wire shapes (WhiteListName in, WhitelistId as a string, WhiteListName/WhiteListCount/WhitelistType out)', async () => {
    const before = await stamp();
    const body = await wl('CreateMcubeWhitelist', { WhiteListName: '  beta testers ', WhitelistType: 'normal' });
    expect(body.ResultCode).toBe('OK');
    expect(body.CreateWhitelistResult).toEqual({ WhitelistId: expect.stringMatching(/^\d+$/), ResultMsg: '', Success: true });
    expect(await stamp()).toBe(before + 1);
    expect(changes.at(-1)).toBe(`${srv.creds.appId}/${srv.creds.workspaceId}`);

    const list = await wl('ListMcubeWhitelists', { WhitelistName: 'beta testers' });
    expect(list.ListWhitelistResult).toEqual({
      CurrentPage: 1,
      HasMore: false,
      PageSize: 20,
      TotalCount: 1,
      Whitelists: [
        {
          AppCode: srv.creds.appId,
          GmtCreate: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
          GmtModified: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
          Id: Number(body.CreateWhitelistResult.WhitelistId),
          WhiteListCount: 0,
          WhiteListName: 'beta testers',
          WhitelistType: 'normal',
        },
      ],
      ResultMsg: '',
      Success: true,
    });
  });

  it('maps type aliases case-insensitively and refuses other types naming the accepted values', async () => {
    await create('alias-user', 'USER');
    await create('alias-regular', 'Regular');
    expect((await listed('alias-user')).WhitelistType).toBe('normal');
    expect((await listed('alias-regular')).WhitelistType).toBe('regex');
    const bad = await wl('CreateMcubeWhitelist', { WhiteListName: 'bad-type', WhitelistType: 'device' });
    expect(bad.ResultCode).toBe('InvalidWhitelistType');
    expect(bad.CreateWhitelistResult.Success).toBe(false);
    expect(bad.CreateWhitelistResult.ResultMsg).toMatch(/normal .*regex/);
    expect(await listed('bad-type')).toBeUndefined();
  });

  it('keeps names unique per app and workspace', async () => {
    const first = await create('unique-name');
    const again = await wl('CreateMcubeWhitelist', { WhiteListName: 'unique-name', WhitelistType: 'regex' });
    expect(again.ResultCode).toBe('WhitelistNameExists');
    // the existing list's id, for a pipeline run again
    expect(again.CreateWhitelistResult).toMatchObject({ Success: false, ResultMsg: expect.stringContaining(`"unique-name" already exists in this app and workspace (id ${first})`) });
    const count = await knex()('whitelists').where({ name: 'unique-name' }).count({ n: '*' });
    expect(Number(count[0]!.n)).toBe(1);
    const empty = await wl('CreateMcubeWhitelist', { WhiteListName: '   ', WhitelistType: 'normal' });
    expect(empty.ResultCode).toBe('InvalidWhitelistName');
  });

  it('pages newest first and filters by a case-insensitive part of the name (WhitelistName, lower-case l)', async () => {
    const ids: number[] = [];
    // "_" in the filter is literal: "paging_" must not find this one
    await create('pagingX');
    for (let i = 0; i < 5; i++) ids.push(Number(await create(`Paging_${i}`)));
    await create('other%list');
    const page1 = (await wl('ListMcubeWhitelists', { WhitelistName: 'paging_', PageNum: 1, PageSize: 2 })).ListWhitelistResult;
    expect(page1).toMatchObject({ CurrentPage: 1, PageSize: 2, TotalCount: 5, HasMore: true });
    expect(page1.Whitelists.map((w: any) => w.Id)).toEqual([ids[4], ids[3]]);
    const page3 = (await wl('ListMcubeWhitelists', { WhitelistName: 'PAGING_', PageNum: 3, PageSize: 2 })).ListWhitelistResult;
    expect(page3).toMatchObject({ CurrentPage: 3, TotalCount: 5, HasMore: false });
    expect(page3.Whitelists.map((w: any) => w.Id)).toEqual([ids[0]]);
    // % and _ are literal in the filter
    const pct = (await wl('ListMcubeWhitelists', { WhitelistName: 'r%l' })).ListWhitelistResult;
    expect(pct.Whitelists.map((w: any) => w.WhiteListName)).toEqual(['other%list']);
    const all = (await wl('ListMcubeWhitelists', {})).ListWhitelistResult;
    expect(all.TotalCount).toBeGreaterThanOrEqual(10);
  });
});

describe('UpdateMcubeWhitelist with inline KeyIds (normal list)', () => {
  it('splits on commas and line breaks, trims, ignores empties, counts duplicates as success and over-long ids as failures', async () => {
    const id = await create('inline-adds');
    const long = 'x'.repeat(257);
    const before = await stamp();
    const body = await wl('UpdateMcubeWhitelist', {
      Id: id,
      OnexFlag: true,
      KeyIds: ` u1 ,u2\r\nu3\n\n,, u1 ,${long}\nU1\n${'y'.repeat(256)}`,
    });
    expect(body.ResultCode).toBe('OK');
    expect(body.AddWhitelistResult).toEqual({
      AddWhitelistInfo: { SuccessNum: 6, FailNum: 1, FailUserIds: 'x'.repeat(64) + '...' },
      ResultMsg: '',
      Success: true,
    });
    expect(await entries(id)).toEqual(['U1', 'u1', 'u2', 'u3', 'y'.repeat(256)].sort());
    expect(await stamp()).toBe(before + 1);
    expect((await listed('inline-adds')).WhiteListCount).toBe(5);

    const again = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'u2,u4' });
    expect(again.AddWhitelistResult.AddWhitelistInfo).toEqual({ SuccessNum: 2, FailNum: 0, FailUserIds: '' });
    expect((await listed('inline-adds')).WhiteListCount).toBe(6);

    // nothing new (every id refused, or already listed): the list, its modified time and the delivery stamp stay as they were
    const row = async () => knex()('whitelists').where({ id: Number(id) }).first('modified_at', 'entry_count');
    const [stampBefore, rowBefore, logBefore] = [await stamp(), await row(), await knex()('whitelist_changes').count({ n: '*' })];
    const refused = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: long });
    expect(refused.AddWhitelistResult.AddWhitelistInfo).toEqual({ SuccessNum: 0, FailNum: 1, FailUserIds: 'x'.repeat(64) + '...' });
    const listedAlready = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'u1,u2' });
    expect(listedAlready.AddWhitelistResult.AddWhitelistInfo).toEqual({ SuccessNum: 2, FailNum: 0, FailUserIds: '' });
    expect(await stamp()).toBe(stampBefore);
    expect(await row()).toEqual(rowBefore);
    expect(await knex()('whitelist_changes').count({ n: '*' })).toEqual(logBefore);
  });

  it('caps FailUserIds to a readable length and refuses empty input', async () => {
    const id = await create('many-failures');
    const bad = Array.from({ length: 300 }, (_, i) => `${i}`.padEnd(300, 'z'));
    const body = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: bad.join('\n') });
    const info = body.AddWhitelistResult.AddWhitelistInfo;
    expect(info.FailNum).toBe(300);
    expect(info.SuccessNum).toBe(0);
    expect(info.FailUserIds.length).toBeLessThanOrEqual(2000);
    expect(info.FailUserIds.split(',').length).toBeGreaterThan(10);
    const empty = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: ' ,\n, ' });
    expect(empty.ResultCode).toBe('EmptyWhitelistContent');
    expect(empty.AddWhitelistResult.Success).toBe(false);
    const neither = await call('UpdateMcubeWhitelist', { ...common(), Id: id }).catch((e) => e);
    expect(neither.code).toBe('MissingParameter');
  });

  it('answers WhitelistNotFound for unknown or malformed ids', async () => {
    for (const Id of ['999999', 'abc', '-1', '1e3']) {
      const body = await wl('UpdateMcubeWhitelist', { Id, KeyIds: 'u1' });
      expect(body.ResultCode).toBe('WhitelistNotFound');
      expect(body.AddWhitelistResult).toMatchObject({ Success: false });
    }
  });
});

describe('CreateMcubeWhitelistForIde', () => {
  it('creates the normal list "ide-<UserId>" and appends to it on later calls', async () => {
    const first = await wl('CreateMcubeWhitelistForIde', { UserId: 'dev.alice', WhitelistValue: 'd1, d2\nd3' });
    expect(first.ResultCode).toBe('OK');
    expect(first.CreateWhitelistForIdeResult).toEqual({ WhitelistId: expect.stringMatching(/^\d+$/), ResultMsg: '', Success: true });
    const second = await wl('CreateMcubeWhitelistForIde', { UserId: 'dev.alice', WhitelistValue: 'd3,d4' });
    expect(second.CreateWhitelistForIdeResult.WhitelistId).toBe(first.CreateWhitelistForIdeResult.WhitelistId);
    expect(await entries(first.CreateWhitelistForIdeResult.WhitelistId)).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(await listed('ide-dev.alice')).toMatchObject({ WhitelistType: 'normal', WhiteListCount: 4 });
  });

  it('is all or nothing: an over-long id refuses the call and creates nothing', async () => {
    const body = await wl('CreateMcubeWhitelistForIde', { UserId: 'dev.bob', WhitelistValue: `ok,${'q'.repeat(300)}` });
    expect(body.ResultCode).toBe('InvalidWhitelistValue');
    expect(body.CreateWhitelistForIdeResult.Success).toBe(false);
    expect(await listed('ide-dev.bob')).toBeUndefined();
  });
});

describe('DeleteMdsWhitelistContent', () => {
  it('removes one value and reports in ResultContent.Data', async () => {
    const id = await create('remove-values');
    await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'a1,a2,a3' });
    const before = await stamp();
    const body = await wl('DeleteMdsWhitelistContent', { WhitelistId: id, WhitelistValue: ' a2 ' });
    expect(body.ResultCode).toBe('OK');
    expect(body.ResultContent).toMatchObject({
      Data: { Content: 'a2', ErrorCode: '', ResultMsg: '', Success: true },
      RequestId: body.RequestId,
    });
    expect(await entries(id)).toEqual(['a1', 'a3']);
    expect(await stamp()).toBe(before + 1);
    expect((await listed('remove-values')).WhiteListCount).toBe(2);

    const missing = await wl('DeleteMdsWhitelistContent', { WhitelistId: id, WhitelistValue: 'a2' });
    expect(missing.ResultCode).toBe('WhitelistValueNotFound');
    expect(missing.ResultContent.Data).toEqual({ Content: '', ErrorCode: 'WhitelistValueNotFound', ResultMsg: expect.stringContaining('a2'), Success: false });
    expect(missing.ResultContent.RequestId).toBe(missing.RequestId);
    expect(await stamp()).toBe(before + 1);
  });
});

describe('DeleteCubecardWhitelistContent', () => {
  it('is the Cube-card name of the same call: removes one value of the same lists, reports in ResultContent.Data', async () => {
    const id = await create('remove-values-card');
    await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'c1,c2' });
    const body = await wl('DeleteCubecardWhitelistContent', { WhitelistId: id, WhitelistValue: 'c1' });
    expect(body.ResultCode).toBe('OK');
    expect(body.ResultContent).toMatchObject({ Data: { Content: 'c1', ErrorCode: '', ResultMsg: '', Success: true }, RequestId: body.RequestId });
    expect(await entries(id)).toEqual(['c2']);
    const missing = await wl('DeleteCubecardWhitelistContent', { WhitelistId: id, WhitelistValue: 'c1' });
    expect(missing.ResultContent.Data).toMatchObject({ ErrorCode: 'WhitelistValueNotFound', Success: false });
    expect(await entries(id)).toEqual(['c2']);
  });
});

describe('DeleteMcubeWhitelist', () => {
  const insertTask = async (whitelistIds: string, taskStatus: number) => {
    const now = Date.now();
    const [res] = await knex()('nebula_resources')
      .insert({
        app_id: srv.creds.appId,
        workspace_id: srv.creds.workspaceId,
        h5_id: '10000001',
        h5_name: 'demo',
        h5_version: `1.0.${now}${Math.random().toString().slice(2, 6)}`,
        resource_type: 0,
        platform: 'Android',
        auto_install: 1,
        install_type: 1,
        amr_key: 'k',
        json_key: 'j',
        md5: '0'.repeat(32),
        file_size: 1,
        release_version: '20200101000000',
        created_at: now,
        modified_at: now,
      })
      .returning('id');
    const resourceId = typeof res === 'object' ? (res as { id: number }).id : res;
    const [task] = await knex()('nebula_tasks')
      .insert({
        app_id: srv.creds.appId,
        workspace_id: srv.creds.workspaceId,
        resource_id: resourceId,
        h5_id: '10000001',
        publish_type: 2,
        publish_mode: 1,
        task_status: taskStatus,
        whitelist_ids: whitelistIds,
        platform: 'Android',
        task_version: now,
        release_version: '20200101000000',
        created_at: now,
        modified_at: now,
      })
      .returning('id');
    return Number(typeof task === 'object' ? (task as { id: number }).id : task);
  };

  it('is refused while a releasing task uses the list, and allowed once the task is finished', async () => {
    const id = await create('in-use');
    const other = await create('in-use-neighbour');
    await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'p1,p2' });
    // a finished task and a task naming a different list do not block
    await insertTask(`${other}`, 1);
    await insertTask(`${id}`, 2);
    const releasing = await insertTask(`${Number(other) + 1000},${id}`, 1);

    const before = await stamp();
    const refused = await wl('DeleteMcubeWhitelist', { Id: Number(id) });
    expect(refused.ResultCode).toBe('WhitelistInUse');
    // only the releasing task is named: the finished one and the one using another list do not count
    expect(refused.DeleteWhitelistResult).toMatchObject({ Success: false, ResultMsg: expect.stringContaining(`task(s) ${releasing};`) });
    expect(await entries(id)).toEqual(['p1', 'p2']);
    expect(await stamp()).toBe(before);

    await knex()('nebula_tasks').where({ id: releasing }).update({ task_status: 2 });
    const done = await wl('DeleteMcubeWhitelist', { Id: Number(id) });
    expect(done.ResultCode).toBe('OK');
    expect(done.DeleteWhitelistResult).toEqual({ Data: 'success', ResultMsg: '', Success: true });
    expect(await entries(id)).toEqual([]);
    expect(await listed('in-use')).toBeUndefined();
    expect(await stamp()).toBe(before + 1);

    const again = await wl('DeleteMcubeWhitelist', { Id: Number(id) });
    expect(again.ResultCode).toBe('WhitelistNotFound');
  });
});

describe('name search', () => {
  it('WhitelistName finds letters beyond ASCII whatever their case, on SQLite as on PostgreSQL', async () => {
    const id = await create('Été testers');
    for (const word of ['été', 'ÉTÉ', 'Été']) {
      const found = (await wl('ListMcubeWhitelists', { WhitelistName: word, PageSize: 200 })).ListWhitelistResult.Whitelists.map((w: any) => String(w.Id));
      expect({ word, found }).toEqual({ word, found: [String(id)] });
    }
  });
});

describe('tenant isolation', () => {
  it('another tenant cannot read, update or delete a list even with its numeric id', async () => {
    const id = await create('tenant-one-private');
    await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'secret-user' });

    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await store.ensureTenant('TENANT02');
    await store.ensureApp('TENANT02', 'ALIPUB0000002');
    await store.ensureWorkspace('ALIPUB0000002', 'default');
    const key = await store.createAccessKey('TENANT02');
    const other = openapiCore(srv.host, { accessKeyId: key.id, accessKeySecret: key.secret });
    const mine = { AppId: 'ALIPUB0000002', WorkspaceId: 'default', TenantId: 'TENANT02' };

    const list = (await other('ListMcubeWhitelists', { ...mine, PageSize: 200 })).body.ListWhitelistResult;
    expect(list.TotalCount).toBe(0);
    const upd = (await other('UpdateMcubeWhitelist', { ...mine, Id: id, KeyIds: 'intruder' })).body;
    expect(upd.ResultCode).toBe('WhitelistNotFound');
    const rm = (await other('DeleteMdsWhitelistContent', { ...mine, WhitelistId: id, WhitelistValue: 'secret-user' })).body;
    expect(rm.ResultCode).toBe('WhitelistNotFound');
    const del = (await other('DeleteMcubeWhitelist', { ...mine, Id: Number(id) })).body;
    expect(del.ResultCode).toBe('WhitelistNotFound');
    // naming the first tenant's app is refused by the gateway
    const cross = await other('ListMcubeWhitelists', { AppId: srv.creds.appId, WorkspaceId: 'default' }).catch((e) => e);
    expect(cross.statusCode).toBe(403);

    expect(await entries(id)).toEqual(['secret-user']);
    expect(await listed('tenant-one-private')).toMatchObject({ WhiteListCount: 1 });

    // a list of the same name in the other tenant is a different list
    const theirs = (await other('CreateMcubeWhitelist', { ...mine, WhiteListName: 'tenant-one-private', WhitelistType: 'normal' })).body;
    expect(theirs.ResultCode).toBe('OK');
    expect(theirs.CreateWhitelistResult.WhitelistId).not.toBe(id);
  });

  it('another workspace of the same app does not see the list', async () => {
    const id = await create('workspace-private');
    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await store.ensureWorkspace(srv.creds.appId, 'staging');
    const body = (await call('UpdateMcubeWhitelist', { ...common(), WorkspaceId: 'staging', Id: id, KeyIds: 'x' })).body;
    expect(body.ResultCode).toBe('WhitelistNotFound');
    expect(await entries(id)).toEqual([]);
  });
});
