import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { countRows, makeH5Zip, mcube, uploadFile, utcIn, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { popCore } from '../helpers/vendor-clients.js';

/**
 * Mini programs (the vendor's Mcube mini actions), driven by the vendor's own
 * clients: a 16-digit mini program, a package built from an uploaded .zip, a
 * release task, and devices that receive it by the same rules as offline
 * packages. The two families of actions never see each other's rows.
 */
let srv: TestServer;
let call: Call;
const MINI = '2024010100000001';
const FILES = { 'index.html': '<!DOCTYPE html><html><body>mini</body></html>', 'index.js': 'App({});', 'appConfig.json': '{"pages":["pages/index/index"]}' };

const ask = async (userId: string, installed = '') =>
  (await deviceCheck(srv.url, { platform: 'android', client: '2.0.0', userId, query: queryOf({ [MINI]: installed }) }, { clientKey: srv.creds.clientKey })).body;
const got = async (userId: string) => (await ask(userId)).data.map((e: any) => `${e.app_id}@${e.version}`);

async function upload(fields: Record<string, unknown> = {}, files: Record<string, string> = FILES): Promise<any> {
  const fileUrl = await uploadFile(call, `${MINI}.zip`, await makeH5Zip(MINI, files));
  return call('UploadMcubeMiniPackage', {
    H5Id: MINI,
    H5Name: 'Mini shop',
    H5Version: '1.0.0.0',
    PackageType: 1,
    ResourceType: 1,
    Platform: 'all',
    ClientVersionMin: '1.0.0;1.0.0',
    ClientVersionMax: '',
    ResourceFileUrl: fileUrl,
    MainUrl: '/index.html#pages/index/index',
    AutoInstall: 1,
    InstallType: 1,
    EnableKeepAlive: 'YES',
    EnableOptionMenu: 'NO',
    EnableTabBar: 1,
    UserId: 'ci-bot',
    OnexFlag: true,
    ...fields,
  });
}

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '100000' });
  call = mcube(srv);
  await call('CreateMcubeVhost', { Vhost: 'h5app.com' });
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

describe('mini programs through the vendor clients', () => {
  let packageId: string;
  let taskId: number;

  it('CreateMcubeMiniApp takes a 16-digit id; ListMcubeMiniApps lists it and ListMcubeNebulaApps does not', async () => {
    const r = await call('CreateMcubeMiniApp', { H5Id: MINI, H5Name: 'Mini shop' });
    expect(r.ResultCode).toBe('OK');
    expect(r.CreateMiniResult).toMatchObject({ Success: true, Data: '' });
    const again = await call('CreateMcubeMiniApp', { H5Id: MINI, H5Name: 'Mini shop' });
    expect(again.CreateMiniResult).toMatchObject({ Success: false, ResultMsg: expect.stringContaining('already exists') });
    // pop-core (GET, HMAC-SHA1) reads the same list through its own parsing
    const pop = popCore(srv.url, srv.creds, 'GET');
    const listed = (await pop('ListMcubeMiniApps', { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId })) as any;
    expect(listed.ListMiniResult).toMatchObject({ Success: true, TotalCount: 1, CurrentPage: 1, HasMore: false });
    expect(listed.ListMiniResult.MiniProgramList).toEqual([
      { AppCode: `${srv.creds.appId}-${srv.creds.workspaceId}`, GmtCreate: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/), GmtModified: expect.any(String), H5Id: MINI, H5Name: 'Mini shop' },
    ]);
    expect((await call('ListMcubeNebulaApps', {})).ListMcubeNebulaAppsResult.NebulaAppInfos).toEqual([]);
  });

  it('refuses an id that is not 16 digits, writing nothing', async () => {
    for (const bad of ['12345678', '123456789012345', 'abcdefghijklmnop']) {
      const r = await call('CreateMcubeMiniApp', { H5Id: bad, H5Name: 'x' });
      expect(r.ResultCode).toBe('InvalidH5Id');
      expect(r.CreateMiniResult.Success).toBe(false);
    }
    expect(await countRows(srv, 'nebula_apps')).toBe(1);
  });

  it('UploadMcubeMiniPackage builds the package; QueryMcubeMiniPackage and ListMcubeMiniPackages show it with its type and launch flags', async () => {
    const r = await upload();
    expect(r.ResultCode).toBe('OK');
    expect(r.UploadMiniPackageResult.Success).toBe(true);
    expect(r.UploadMiniPackageResult.ReturnPackageResult).toEqual({ DebugUrl: '', PackageId: expect.stringMatching(/^\d+$/), UserId: 'ci-bot' });
    packageId = r.UploadMiniPackageResult.ReturnPackageResult.PackageId;

    const q = (await call('QueryMcubeMiniPackage', { H5Id: MINI, Id: packageId })).QueryMiniPackageResult;
    expect(q.Success).toBe(true);
    const info = q.MiniPackageInfo;
    expect(info).toMatchObject({ Id: Number(packageId), H5Id: MINI, H5Name: 'Mini shop', H5Version: '1.0.0.0', PackageType: 1, ResourceType: 1, Platform: 'all', MainUrl: '/index.html#pages/index/index', PublishPeriod: 0 });
    expect(Object.keys(info).sort()).toHaveLength(22);
    expect(JSON.parse(info.ExtendInfo)).toEqual({ launchParams: { enableKeepAlive: 'YES', enableOptionMenu: 'NO', enableTabBar: 'YES' } });
    expect(JSON.parse(info.ExtraData)).toMatchObject({ resourceType: '1', userId: 'ci-bot', enableTabBar: 'YES' });
    const amr = Buffer.from(await (await fetch(info.DownloadUrl)).arrayBuffer());
    expect(amr.subarray(0, 2).toString()).toBe('PK');

    const typed = async (types: string) => (await call('ListMcubeMiniPackages', { H5Id: MINI, PackageTypes: types })).ListMiniPackageResult;
    expect((await typed('1')).MiniPackageList.map((p: any) => p.Id)).toEqual([Number(packageId)]);
    expect((await typed('0,1')).TotalCount).toBe(1);
    expect((await typed('0')).MiniPackageList).toEqual([]);
    expect((await typed('')).TotalCount).toBe(1);
    expect((await call('ListMcubeMiniPackages', { PackageTypes: 'test' })).ResultCode).toBe('InvalidPackageTypes');
  });

  it('the offline-package actions do not see mini program packages, nor the mini actions offline packages', async () => {
    expect((await call('ListMcubeNebulaResources', {})).ListMcubeNebulaResourceResult.NebulaResourceInfo).toEqual([]);
    expect((await call('GetMcubeNebulaResource', { Id: packageId })).ResultCode).toBe('NebulaResourceNotFound');
    expect((await call('CreateMcubeNebulaTask', { Id: 0, PackageId: Number(packageId), PublishType: 3 })).ResultCode).toBe('NebulaResourceNotFound');
    expect((await call('DeleteMcubeNebulaApp', { H5Id: MINI })).ResultCode).toBe('NebulaAppNotFound');
    expect((await call('QueryMcubeMiniPackage', { Id: packageId, H5Id: '2024010100000002' })).ResultCode).toBe('MiniPackageNotFound');
    expect(await countRows(srv, 'nebula_tasks')).toBe(0);
  });

  it('a whitelist gray task delivers the package to listed users only, with the launch flags in extend_info', async () => {
    const wl = (await call('CreateMcubeWhitelist', { WhiteListName: 'mini testers', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    await call('UpdateMcubeWhitelist', { Id: wl, KeyIds: 'alice' });
    const r = await call('CreateMcubeMiniTask', { PackageId: Number(packageId), PublishType: 2, PublishMode: 1, WhitelistIds: wl, Memo: 'testers first' });
    expect(r.ResultCode).toBe('OK');
    expect(r.CreateMiniTaskResult).toMatchObject({ Success: true, MiniTaskId: expect.stringMatching(/^\d+$/) });
    taskId = Number(r.CreateMiniTaskResult.MiniTaskId);
    // the whitelist stays while the task uses it, and the refusal names the mini program action that ends it
    const held = await call('DeleteMcubeWhitelist', { Id: wl });
    expect(held.ResultCode).toBe('WhitelistInUse');
    expect(held.DeleteWhitelistResult.ResultMsg).toBe(
      `Whitelist ${wl} is used by unfinished release task(s) mini program task ${taskId}; end the tasks (a mini program task with ChangeMcubeMiniTaskStatus) before deleting the whitelist.`,
    );

    expect(await got('bob')).toEqual([]);
    const answer = await ask('alice');
    expect(answer.resultCode).toBe(100);
    expect(answer.data).toHaveLength(1);
    const entry = answer.data[0];
    expect(entry).toMatchObject({ app_id: MINI, version: '1.0.0.0', name: 'Mini shop', main_url: '/index.html#pages/index/index', vhost: `https://${MINI}.h5app.com` });
    expect(entry.extend_info.launchParams).toMatchObject({ enableTabBar: 'YES', enableKeepAlive: 'YES' });
    const amr = Buffer.from(await (await fetch(entry.package_url)).arrayBuffer());
    expect(createHash('md5').update(amr).digest('hex')).toBe(entry.md5);

    const tasks = (await call('ListMcubeMiniTasks', { Id: packageId })).ListMiniTaskResult;
    expect(tasks.Success).toBe(true);
    expect(tasks.MiniTaskList).toHaveLength(1);
    expect(tasks.MiniTaskList[0]).toMatchObject({ Id: taskId, PackageId: Number(packageId), PublishType: 2, PublishMode: 1, TaskStatus: 1, Status: '1', WhitelistIds: String(wl), Memo: 'testers first', ProductVersion: '1.0.0.0' });
    expect(Object.keys(tasks.MiniTaskList[0])).toHaveLength(17);
    const one = (await call('QueryMcubeMiniTask', { TaskId: taskId })).QueryMiniTaskResult;
    expect(one.MiniTaskInfo).toEqual(tasks.MiniTaskList[0]);
    expect((await call('QueryMcubeMiniPackage', { Id: packageId })).QueryMiniPackageResult.MiniPackageInfo.PublishPeriod).toBe(1);
  });

  it('ChangeMcubeMiniTaskStatus pauses and continues delivery; the offline-package action does not reach the task', async () => {
    expect((await call('GetMcubeNebulaTaskDetail', { TaskId: taskId })).ResultCode).toBe('NebulaTaskNotFound');
    expect((await call('ChangeMcubeNebulaTaskStatus', { BizType: 'nebula', TaskId: String(taskId), TaskStatus: 3 })).ResultCode).toBe('NebulaTaskNotFound');
    expect(await got('alice')).toEqual([`${MINI}@1.0.0.0`]);

    const pause = await call('ChangeMcubeMiniTaskStatus', { BizType: 'mini', TaskId: taskId, PackageId: Number(packageId), TaskStatus: 3 });
    expect(pause.ResultCode).toBe('OK');
    expect(pause.ChangeMiniTaskStatusResult).toMatchObject({ Success: true, Data: '' });
    expect(await got('alice')).toEqual([]);
    expect((await call('ChangeMcubeMiniTaskStatus', { TaskId: taskId, TaskStatus: 1 })).ResultCode).toBe('OK');
    expect(await got('alice')).toEqual([`${MINI}@1.0.0.0`]);
    // a move the state machine forbids is refused, and a task that is not a mini task is not found
    expect((await call('ChangeMcubeMiniTaskStatus', { TaskId: taskId, TaskStatus: 0 })).ResultCode).toBe('InvalidTaskStatusChange');
    expect((await call('ChangeMcubeMiniTaskStatus', { TaskId: 999999, TaskStatus: 3 })).ResultCode).toBe('MiniTaskNotFound');
  });

  it('a time-window task of a second version admits GreyNum users (the same engine as offline packages)', async () => {
    const v2 = await upload({ H5Version: '1.0.0.1', PackageType: 0 });
    expect(v2.ResultCode).toBe('OK');
    const id2 = Number(v2.UploadMiniPackageResult.ReturnPackageResult.PackageId);
    const r = await call('CreateMcubeMiniTask', { PackageId: id2, PublishType: 2, PublishMode: 2, GreyNum: 1, GreyEndtimeData: utcIn(3600_000), Memo: 'window' });
    expect(r.ResultCode).toBe('OK');
    expect(await got('w1')).toEqual([`${MINI}@1.0.0.1`]);
    expect(await got('w2')).toEqual([]);
    // the window is full: alice keeps the older version her whitelist task delivers
    expect(await got('alice')).toEqual([`${MINI}@1.0.0.0`]);
    expect((await call('ListMcubeMiniPackages', { H5Id: MINI, PackageTypes: '0' })).ListMiniPackageResult.MiniPackageList.map((p: any) => p.H5Version)).toEqual(['1.0.0.1']);
  });
});

describe('CreateMdsMiniprogramTask, the MDS form of the same call', () => {
  it('creates the same task (GreyNum and PublishMode as strings) and reports its outcome inside ResultContent.Data, failures too', async () => {
    const id = Number((await call('ListMcubeMiniPackages', { H5Id: MINI, PackageTypes: '0' })).ListMiniPackageResult.MiniPackageList[0].Id);
    const before = await countRows(srv, 'nebula_tasks');
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ PublishType: 2, PublishMode: 'one' }, 'InvalidPublishMode'],
      [{ PublishType: 2, PublishMode: '2', GreyNum: 'ten', GreyEndtimeData: utcIn(3600_000) }, 'InvalidGreyNum'],
      [{ PublishType: 3, H5Id: '2024010100000002' }, 'InvalidH5Id'],
      [{ PublishType: 3, PackageId: 999999 }, 'MiniPackageNotFound'],
    ];
    for (const [fields, code] of bad) {
      const r = await call('CreateMdsMiniprogramTask', { Id: 0, PackageId: id, SyncMode: '0', ...fields });
      expect(r.ResultCode, JSON.stringify(fields)).toBe(code);
      expect(r.ResultContent.Data).toMatchObject({ Success: false, ErrorCode: code, Content: '', ResultMsg: expect.any(String) });
    }
    expect(await countRows(srv, 'nebula_tasks')).toBe(before);

    const r = await call('CreateMdsMiniprogramTask', { Id: 0, H5Id: MINI, PackageId: id, PublishType: 2, PublishMode: '2', GreyNum: '5', GreyEndtimeData: utcIn(7200_000), Memo: 'mds', SyncMode: '0' });
    expect(r.ResultCode).toBe('OK');
    expect(r.ResultContent.Data).toMatchObject({ Success: true, Content: expect.stringMatching(/^\d+$/), RequestId: r.RequestId });
    const task = (await call('QueryMcubeMiniTask', { TaskId: Number(r.ResultContent.Data.Content) })).QueryMiniTaskResult.MiniTaskInfo;
    expect(task).toMatchObject({ PackageId: id, PublishType: 2, PublishMode: 2, GreyNum: 5, Memo: 'mds', TaskStatus: 1 });
  });
});

describe('what the mini calls do not take', () => {
  it('offline-package task fields sent along (Percent, TaskType, TaskStatus, BizType) are not read, and percentage mode is refused', async () => {
    const id = Number((await call('ListMcubeMiniPackages', { H5Id: MINI, PackageTypes: '1' })).ListMiniPackageResult.MiniPackageList[0].Id);
    const before = await countRows(srv, 'nebula_tasks');
    for (const mode of [{ PublishMode: 3, Percent: 50 }, { PublishMode: 3, Percent: 'abc' }]) {
      const r = await call('CreateMcubeMiniTask', { PackageId: id, PublishType: 2, ...mode });
      expect(r.ResultCode).toBe('InvalidPublishMode');
      expect(r.ResultMessage).toContain('percentage');
    }
    const other = await call('CreateMcubeMiniTask', { PackageId: id, PublishType: 2, PublishMode: 5 });
    expect(other.ResultCode).toBe('InvalidPublishMode');
    expect(other.ResultMessage).toMatch(/use 1 \(whitelist\) or 2 \(time window\)\.$/);
    const mds = await call('CreateMdsMiniprogramTask', { Id: 0, PackageId: id, PublishType: 2, PublishMode: '3', Percent: '50' });
    expect(mds.ResultContent.Data).toMatchObject({ Success: false, ErrorCode: 'InvalidPublishMode' });
    expect(await countRows(srv, 'nebula_tasks')).toBe(before);

    const r = await call('CreateMcubeMiniTask', { PackageId: id, PublishType: 3, Percent: 'abc', TaskType: '1', TaskStatus: '0', BizType: 'mini', Id: '7' });
    expect(r.ResultCode).toBe('OK');
    const row = await srv.node.deps.db.knex('nebula_tasks').where({ id: Number(r.CreateMiniTaskResult.MiniTaskId) }).first();
    expect({ percent: Number(row.percent), taskType: Number(row.task_type), status: Number(row.task_status), publishMode: Number(row.publish_mode) }).toEqual({ percent: 0, taskType: 0, status: 1, publishMode: 4 });
    expect((await call('ChangeMcubeMiniTaskStatus', { TaskId: Number(r.CreateMiniTaskResult.MiniTaskId), TaskStatus: 2 })).ResultCode).toBe('OK');
  });

  it('ExtraData shows the launch flags the package carries: one written in ExtendInfo wins over the field', async () => {
    const r = await upload({ H5Version: '1.0.0.5', EnableKeepAlive: 'NO', ExtendInfo: '{"launchParams":{"enableKeepAlive":"YES"}}' });
    expect(r.ResultCode).toBe('OK');
    const info = (await call('QueryMcubeMiniPackage', { Id: r.UploadMiniPackageResult.ReturnPackageResult.PackageId })).QueryMiniPackageResult.MiniPackageInfo;
    expect(JSON.parse(info.ExtendInfo).launchParams.enableKeepAlive).toBe('YES');
    expect(JSON.parse(info.ExtraData).enableKeepAlive).toBe('YES');
  });
});

describe('refused mini program packages change nothing', () => {
  it('bad fields answer with the field named and leave no rows and no stored objects', async () => {
    const pkgObjects = async () => Number(((await srv.node.deps.db.knex('blobs').where('key', 'like', 'pkg/%').count({ n: '*' }))[0] as { n: unknown }).n);
    const before = { resources: await countRows(srv, 'nebula_resources'), objects: await pkgObjects() };
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ EnableKeepAlive: 'maybe' }, 'InvalidEnableKeepAlive', 'EnableKeepAlive'],
      [{ EnableTabBar: 7 }, 'InvalidEnableTabBar', 'EnableTabBar'],
      [{ PackageType: 100 }, 'InvalidPackageType', 'PackageType'],
      [{ ResourceFileUrl: '' }, 'InvalidResourceFileUrl', 'ResourceFileUrl'],
      [{ ResourceFileUrl: 'http://example.com/evil.zip' }, 'InvalidFileUrl', 'ResourceFileUrl'],
      [{ H5Id: '12345678' }, 'InvalidH5Id', 'H5Id'],
      [{ MainUrl: 'index.html' }, 'InvalidMainUrl', 'MainUrl'],
      [{ MainUrl: '/missing.html' }, 'InvalidMainUrl', 'MainUrl'],
      [{ H5Version: '1.0.0.0' }, 'H5VersionExists', 'H5Version'],
      [{ ExtendInfo: '[1]' }, 'InvalidExtendInfo', 'ExtendInfo'],
      [{ ExtendInfo: '{"launchParams":"x"}' }, 'InvalidExtendInfo', 'ExtendInfo'],
      [{ ResourceType: 0, RepeatNebula: 1 }, 'InvalidResourceType', 'normal package (1)'],
      [{ MainUrl: '/index.htm#pages/a' }, 'InvalidMainUrl', '/index.html#pages/index/index'],
    ];
    for (const [fields, code, field] of cases) {
      const r = await upload({ H5Version: '9.9.9', ...fields });
      expect(r.ResultCode, JSON.stringify(fields)).toBe(code);
      expect(r.UploadMiniPackageResult.Success).toBe(false);
      expect(r.ResultMessage, JSON.stringify(fields)).toContain(field);
    }
    expect(await countRows(srv, 'nebula_resources')).toBe(before.resources);
    expect(await pkgObjects()).toBe(before.objects);
  });

  it('DeleteMcubeMiniApp removes the mini program with its packages and tasks', async () => {
    expect(await countRows(srv, 'nebula_resources', { h5_id: MINI })).toBe(3);
    const r = await call('DeleteMcubeMiniApp', { H5Id: MINI });
    expect(r.ResultCode).toBe('OK');
    expect(r.DeleteMiniResult.Success).toBe(true);
    expect(await countRows(srv, 'nebula_resources', { h5_id: MINI })).toBe(0);
    expect(await countRows(srv, 'nebula_tasks', { h5_id: MINI })).toBe(0);
    expect(await got('alice')).toEqual([]);
    expect((await call('DeleteMcubeMiniApp', { H5Id: MINI })).ResultCode).toBe('MiniAppNotFound');
  });
});

describe('a domain too long to serve from', () => {
  it('is refused by CreateMcubeVhost, and as a package\'s Vhost, on both databases, writing nothing', async () => {
    // three 63-character labels, one of 50, and ".com": a valid domain of 246 characters
    const label = (c: string, n: number) => c.repeat(n);
    const long = `${label('a', 63)}.${label('b', 63)}.${label('c', 63)}.${label('d', 50)}.com`;
    expect(long.length).toBe(246);
    const set = await call('CreateMcubeVhost', { Vhost: long });
    expect(set.ResultCode).toBe('InvalidVhost');
    expect(set.CreateVhostResult.ResultMsg).toContain('at most 230');
    expect((await call('QueryMcubeVhost', {})).QueryVhostResult.Data).toBe('h5app.com');
    const before = await countRows(srv, 'nebula_resources');
    const r = await upload({ H5Version: '9.9.9.9', Vhost: long });
    expect(r.ResultCode).toBe('InvalidVhost');
    expect(r.UploadMiniPackageResult.Success).toBe(false);
    expect(await countRows(srv, 'nebula_resources')).toBe(before);
  });
});
