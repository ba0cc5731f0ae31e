import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McubeClient } from '../../packages/sdk/src/index.js';
import { utcIn } from '../helpers/nebula.js';
import { openapiCore } from '../helpers/vendor-clients.js';
import { androidPackage, createPackage, createUpgradeTask, fakeApp, startUpgradeServer, stateOf, upload, type Upgrade } from './upgrade-fixtures.js';

let u: Upgrade;
const pk = { android: 0, appstore: 0, enterprise: 0, testflight: 0, other: 0 };
const wl = { a: 0, b: 0 };

beforeAll(async () => {
  u = await startUpgradeServer();
  pk.android = await androidPackage(u.a, '5.0.0');
  pk.other = await androidPackage(u.a, '5.1.0');
  pk.appstore = await createPackage(u.a, { Platform: 'iOS', AppVersion: '5.0.0', AppstoreUrl: 'https://apps.apple.com/app/id1' });
  pk.enterprise = await createPackage(u.a, { Platform: 'iOS', IsEnterprise: 1, AppVersion: '5.0.0', FileUrl: await upload(u.a, 'e.ipa', await fakeApp('e')) });
  pk.testflight = await createPackage(u.a, { Platform: 'iOS', AppVersion: '5.2.0', AppstoreUrl: 'https://testflight.apple.com/join/x', ValidDays: 30, InstallAmount: 100 });
  wl.a = Number((await u.a('CreateMcubeWhitelist', { WhiteListName: 'beta', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
  expect((await u.a('UpdateMcubeWhitelist', { Id: String(wl.a), KeyIds: 'u1,u2,u3' })).ResultCode).toBe('OK');
  wl.b = Number((await u.b('CreateMcubeWhitelist', { WhiteListName: 'b-list', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
}, 60_000);

afterAll(async () => {
  await u?.srv.close();
});

const rules = JSON.stringify([
  { ruleElement: 'city', operation: 1, value: 'Shanghai, Beijing' },
  { ruleElement: 'mobileModel', operation: 2, value: 'Pixel 3' },
  { ruleElement: 'netType', operation: 1, value: 'WIFI' },
  { ruleElement: 'osVersion', operation: 3, value: '9.0-14.0' },
]);

describe('CreateMcubeUpgradeTask, ListMcubeUpgradeTasks, GetMcubeUpgradeTaskInfo, QueryMdsUpgradeTaskDetail', () => {
  it('an official task: upgradeTaskId (lower-case u) is a string, the task is listed and the package shows it releasing', async () => {
    const r = await u.a('CreateMcubeUpgradeTask', { PackageInfoId: pk.android, PublishType: 3, UpgradeType: 206, UpgradeContent: 'Please update', Memo: 'rollout', HistoryForce: 1 });
    expect(r.ResultCode).toBe('OK');
    expect(Object.keys(r.CreateTaskResult)).toContain('upgradeTaskId');
    expect(Object.keys(r.CreateTaskResult)).not.toContain('UpgradeTaskId');
    expect(r.CreateTaskResult.upgradeTaskId).toMatch(/^\d+$/);
    expect(r.CreateTaskResult).toMatchObject({ Success: true, RequestId: r.RequestId });
    const id = Number(r.CreateTaskResult.upgradeTaskId);

    const listed = await u.a('ListMcubeUpgradeTasks', { PackageId: String(pk.android) });
    expect(listed.ResultCode).toBe('OK');
    expect(listed.ListTaskResult.Success).toBe(true);
    expect(listed.ListTaskResult.TaskInfo).toHaveLength(1);
    expect(listed.ListTaskResult.TaskInfo[0]).toMatchObject({
      Id: id, PackageInfoId: pk.android, Platform: 'Android', PublishType: 3, PublishMode: 4, TaskStatus: 1, IsRelease: 1, IsOfficial: 1, UpgradeType: 206,
      UpgradeContent: 'Please update', PushContent: 'Please update', Memo: 'rollout', HistoryForce: 1, ProductVersion: '5.0.0', WhitelistIds: '', Creator: u.srv.creds.accessKeyId,
    });
    const pkg = (await u.a('GetMcubeUpgradePackageInfo', { PackageId: pk.android })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    expect(pkg).toMatchObject({ PublishPeriod: 3, IsRelease: 1, AllowCreateTask: true });
  });

  it('a whitelist gray task with advanced rules, in both detail forms', async () => {
    const id = await createUpgradeTask(u.a, pk.other, { PublishType: 2, PublishMode: 1, WhitelistIds: `${wl.a}`, UpgradeType: 202, GreyConfigInfo: rules, UpgradeContent: 'New!' });
    const got = await u.a('GetMcubeUpgradeTaskInfo', { TaskId: id });
    expect(got.ResultCode).toBe('OK');
    const t = got.GetTaskResult.TaskInfo;
    expect(t).toMatchObject({
      Id: id, AppId: u.srv.creds.appId, WorkspaceId: 'default', PackageInfoId: pk.other, PackageType: 'apk', PublishType: 2, PublishMode: 1, IsOfficial: 0, UpgradeType: 202,
      WhitelistIds: String(wl.a), GreyConfigInfo: rules, NetType: 'WIFI', OsVersion: '9.0-14.0', Creater: u.srv.creds.accessKeyId, Creator: u.srv.creds.accessKeyId,
    });
    expect(t.DownloadUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(t.Whitelist).toEqual([{ AppCode: `${u.srv.creds.appId}-default`, Id: wl.a, IdType: 'userId', Platform: 'Android', Status: 1, UserType: '', WhiteListCount: 3, WhiteListName: 'beta', WhitelistType: 'normal' }]);
    expect(t.RuleJsonList).toEqual([
      { RuleElement: 'city', Operation: '1', RuleType: 'contains', Value: 'Shanghai,Beijing' },
      { RuleElement: 'mobileModel', Operation: '2', RuleType: 'excludes', Value: 'Pixel 3' },
      { RuleElement: 'netType', Operation: '1', RuleType: 'contains', Value: 'WIFI' },
      { RuleElement: 'osVersion', Operation: '3', RuleType: 'vLimitIn', Value: '9.0-14.0' },
    ]);

    const mds = await u.a('QueryMdsUpgradeTaskDetail', { TaskId: id });
    expect(mds.ResultCode).toBe('OK');
    expect(mds.ResultContent.Data).toMatchObject({ Success: true, ErrorCode: '', ResultMsg: '' });
    const c = mds.ResultContent.Data.Content;
    expect(c).toMatchObject({ Id: id, CityContains: 'Shanghai,Beijing', CityExcludes: '', MobileModelContains: '', MobileModelExcludes: 'Pixel 3', NetType: 'WIFI', PackageInfoId: pk.other, ProductVersion: '5.1.0', UpgradeContent: 'New!' });
    expect(Object.keys(c)).toContain('Appstoreurl');
    expect(Object.keys(c)).not.toContain('AppstoreUrl');
    expect(c.Whitelist).toEqual([expect.objectContaining({ Id: wl.a, WhiteListName: 'beta', WhiteListCount: 3, Business: 'upgrade' })]);
    // the whitelist cannot be deleted while this task uses it
    const del = await u.a('DeleteMcubeWhitelist', { Id: wl.a });
    expect(del.ResultCode).toBe('WhitelistInUse');
    expect(del.DeleteWhitelistResult.ResultMsg).toContain(`upgrade task ${id}`);
  });

  it('a time-window gray task on an App Store package, and a TestFlight whitelist task', async () => {
    const end = utcIn(2 * 86_400_000);
    const id = await createUpgradeTask(u.a, pk.appstore, { PublishType: 2, PublishMode: 2, GreyEndtimeData: end, GreyNum: 500, UpgradeType: 204 });
    const t = (await u.a('GetMcubeUpgradeTaskInfo', { TaskId: id })).GetTaskResult.TaskInfo;
    expect(t).toMatchObject({ PublishMode: 2, GreyEndtimeData: end, GreyNum: 500, AppstoreUrl: 'https://apps.apple.com/app/id1', DownloadUrl: 'https://apps.apple.com/app/id1', QrcodeUrl: '', Platform: 'iOS' });
    const item = (await u.a('ListMcubeUpgradeTasks', { PackageId: String(pk.appstore) })).ListTaskResult.TaskInfo[0];
    expect(item).toMatchObject({ Id: id, GreyEndtime: end, GreyNum: 500, RealGreyNum: 0 });
    expect((await u.a('QueryMdsUpgradeTaskDetail', { TaskId: id })).ResultContent.Data.Content.Appstoreurl).toBe('https://apps.apple.com/app/id1');
    await createUpgradeTask(u.a, pk.testflight, { PublishType: 2, PublishMode: 1, WhitelistIds: String(wl.a), UpgradeType: 204 });
    await createUpgradeTask(u.a, pk.enterprise, { PublishType: 2, PublishMode: 1, WhitelistIds: String(wl.a), UpgradeType: 206 });
    // an end time as JavaScript's toISOString() writes it (with milliseconds) is read, and echoed in the wire form
    const at = Date.now() + 3 * 86_400_000;
    const iso = await createUpgradeTask(u.a, pk.appstore, { PublishType: 2, PublishMode: 2, GreyEndtimeData: new Date(at).toISOString(), GreyNum: 5, UpgradeType: 204 });
    const echoed = (await u.a('GetMcubeUpgradeTaskInfo', { TaskId: iso })).GetTaskResult.TaskInfo.GreyEndtimeData;
    expect(echoed).toBe(new Date(at).toISOString().replace('T', ' ').slice(0, 19));
  });

  it('the typed SDK client (McubeClient) exposes the actions with the vendor\'s spelling', async () => {
    const client = new McubeClient({ endpoint: u.srv.url, accessKeyId: u.srv.creds.accessKeyId, accessKeySecret: u.srv.creds.accessKeySecret, appId: u.srv.creds.appId, workspaceId: 'default', retry: false });
    const created = await client.createMcubeUpgradeTask({ packageInfoId: pk.other, publishType: 3, upgradeType: 204 });
    expect(created.createTaskResult.upgradeTaskId).toMatch(/^\d+$/);
    const tasks = await client.listMcubeUpgradeTasks({ packageId: String(pk.other) });
    expect(tasks.listTaskResult.taskInfo?.map((x) => x.id)).toContain(Number(created.createTaskResult.upgradeTaskId));
    const pkgs = await client.listMcubeUpgradePackages({ pageSize: 1 });
    expect(pkgs.listPackagesResult.packages?.[0]?.platform).toBeDefined();
    const tf = await client.getMcubeUpgradePackageInfo({ packageId: pk.testflight });
    expect(tf.getPackageResult.packageInfo?.mobileTestFlightConfigDO?.installAmount).toBe(100);
    const mds = await client.queryMdsUpgradeTaskDetail({ taskId: Number(created.createTaskResult.upgradeTaskId) });
    expect(mds.resultContent.data?.content?.appstoreurl).toBe('');
  });
});

describe('refused tasks change nothing', () => {
  const cases: Array<[string, () => Record<string, unknown>, string]> = [
    ['no PackageInfoId', () => ({ PublishType: 3, UpgradeType: 202 }), 'InvalidPackageInfoId'],
    ['an unknown package', () => ({ PackageInfoId: 999_999, PublishType: 3, UpgradeType: 202 }), 'UpgradePackageNotFound'],
    ['no UpgradeType', () => ({ PackageInfoId: pk.android, PublishType: 3 }), 'InvalidUpgradeType'],
    ['UpgradeType 201 (means no new version)', () => ({ PackageInfoId: pk.android, PublishType: 3, UpgradeType: 201 }), 'InvalidUpgradeType'],
    ['UpgradeType 203 (obsolete)', () => ({ PackageInfoId: pk.android, PublishType: 3, UpgradeType: 203 }), 'InvalidUpgradeType'],
    ['HistoryForce 2', () => ({ PackageInfoId: pk.android, PublishType: 3, UpgradeType: 202, HistoryForce: 2 }), 'InvalidHistoryForce'],
    ['PublishType 1', () => ({ PackageInfoId: pk.android, PublishType: 1, UpgradeType: 202 }), 'InvalidPublishType'],
    ['no PublishType', () => ({ PackageInfoId: pk.android, UpgradeType: 202 }), 'InvalidPublishType'],
    ['a gray task without PublishMode', () => ({ PackageInfoId: pk.android, PublishType: 2, UpgradeType: 202 }), 'InvalidPublishMode'],
    ['a percentage gray task (not for upgrades)', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 3, UpgradeType: 202 }), 'InvalidPublishMode'],
    ['a whitelist task without whitelists', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 1, UpgradeType: 202 }), 'InvalidWhitelistIds'],
    ['a whitelist id that is no number', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 1, UpgradeType: 202, WhitelistIds: 'beta' }), 'InvalidWhitelistIds'],
    ['an unknown whitelist', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 1, UpgradeType: 202, WhitelistIds: `${wl.a},999999` }), 'InvalidWhitelistIds'],
    ['another tenant\'s whitelist', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 1, UpgradeType: 202, WhitelistIds: String(wl.b) }), 'InvalidWhitelistIds'],
    ['a time window that has ended', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: utcIn(-60_000), GreyNum: 5 }), 'InvalidGreyEndtimeData'],
    ['a time window 8 days long', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: utcIn(8 * 86_400_000), GreyNum: 5 }), 'InvalidGreyEndtimeData'],
    ['a badly written end time', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: 'tomorrow', GreyNum: 5 }), 'InvalidGreyEndtimeData'],
    ['a time window without GreyNum', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: utcIn(86_400_000) }), 'InvalidGreyNum'],
    ['advanced rules that are not JSON', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 1, UpgradeType: 202, WhitelistIds: String(wl.a), GreyConfigInfo: '[{' }), 'InvalidGreyConfigInfo'],
    ['an unknown rule element', () => ({ PackageInfoId: pk.android, PublishType: 2, PublishMode: 1, UpgradeType: 202, WhitelistIds: String(wl.a), GreyConfigInfo: '[{"ruleElement":"weather","operation":1,"value":"sunny"}]' }), 'InvalidGreyConfigInfo'],
    ['an official task with whitelists', () => ({ PackageInfoId: pk.android, PublishType: 3, UpgradeType: 202, WhitelistIds: String(wl.a) }), 'InvalidWhitelistIds'],
    ['an official task with rules', () => ({ PackageInfoId: pk.android, PublishType: 3, UpgradeType: 202, GreyConfigInfo: rules }), 'InvalidGreyConfigInfo'],
    ['an official task on an enterprise package', () => ({ PackageInfoId: pk.enterprise, PublishType: 3, UpgradeType: 202 }), 'InvalidPublishType'],
    ['a time-window task on an enterprise package', () => ({ PackageInfoId: pk.enterprise, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: utcIn(86_400_000), GreyNum: 5 }), 'InvalidPublishMode'],
    ['an official task on a TestFlight package', () => ({ PackageInfoId: pk.testflight, PublishType: 3, UpgradeType: 202 }), 'InvalidPublishType'],
    ['a forced upgrade on a TestFlight package', () => ({ PackageInfoId: pk.testflight, PublishType: 2, PublishMode: 1, WhitelistIds: String(wl.a), UpgradeType: 206 }), 'InvalidUpgradeType'],
    [
      'a time window on a TestFlight package admitting more testers than its InstallAmount (100)',
      () => ({ PackageInfoId: pk.testflight, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: utcIn(86_400_000), GreyNum: 101 }),
      'InvalidGreyNum',
    ],
    ['an UpgradeContent over 2000 characters', () => ({ PackageInfoId: pk.android, PublishType: 3, UpgradeType: 202, UpgradeContent: 'x'.repeat(2001) }), 'InvalidUpgradeContent'],
  ];

  it.each(cases)('%s', async (_label, fields, code) => {
    const before = await stateOf(u.srv);
    const r = await u.a('CreateMcubeUpgradeTask', fields());
    expect(r.ResultCode, JSON.stringify(r)).toBe(code);
    expect(r.CreateTaskResult).toMatchObject({ Success: false, ErrorCode: code });
    expect(r.CreateTaskResult.upgradeTaskId).toBeUndefined();
    expect(r.CreateTaskResult.ResultMsg.length).toBeGreaterThan(10);
    expect(await stateOf(u.srv)).toBe(before);
  });

  it('another tenant: its package is not found, its AppId is forbidden; nothing of it changes', async () => {
    const bPkg = await androidPackage(u.b, '5.0.0');
    const bTask = await createUpgradeTask(u.b, bPkg);
    const before = await stateOf(u.srv);
    expect((await u.a('CreateMcubeUpgradeTask', { PackageInfoId: bPkg, PublishType: 3, UpgradeType: 202 })).ResultCode).toBe('UpgradePackageNotFound');
    expect((await u.a('ListMcubeUpgradeTasks', { PackageId: String(bPkg) })).ResultCode).toBe('UpgradePackageNotFound');
    const info = await u.a('GetMcubeUpgradeTaskInfo', { TaskId: bTask });
    expect(info.ResultCode).toBe('UpgradeTaskNotFound');
    expect(info.GetTaskResult).toMatchObject({ Success: false, ErrorCode: 'UpgradeTaskNotFound' });
    const mds = await u.a('QueryMdsUpgradeTaskDetail', { TaskId: bTask });
    expect(mds.ResultCode).toBe('UpgradeTaskNotFound');
    expect(mds.ResultContent.Data).toMatchObject({ Success: false, ErrorCode: 'UpgradeTaskNotFound' });
    expect(mds.ResultContent.Data.Content).toBeUndefined();
    const call = openapiCore(u.srv.host, u.srv.creds);
    for (const [action, body] of [
      ['CreateMcubeUpgradeTask', { PackageInfoId: bPkg, PublishType: 3, UpgradeType: 202 }],
      ['ListMcubeUpgradeTasks', { PackageId: String(bPkg) }],
      ['GetMcubeUpgradeTaskInfo', { TaskId: bTask }],
      ['QueryMdsUpgradeTaskDetail', { TaskId: bTask }],
      ['DeleteMcubeUpgradeResource', { Id: String(bPkg) }],
    ] as const) {
      const err = await call(action, { AppId: u.B.appId, WorkspaceId: 'default', ...body }).catch((e) => e);
      expect([err.statusCode, err.code], action).toEqual([403, 'Forbidden']);
    }
    expect(await stateOf(u.srv)).toBe(before);
  });

  it('lookups: missing or bad ids', async () => {
    expect((await u.a('ListMcubeUpgradeTasks', {})).ResultCode).toBe('InvalidPackageId');
    expect((await u.a('ListMcubeUpgradeTasks', { PackageId: 'x1' })).ResultCode).toBe('InvalidPackageId');
    expect((await u.a('ListMcubeUpgradeTasks', { PackageId: '999999' })).ResultCode).toBe('UpgradePackageNotFound');
    expect((await u.a('GetMcubeUpgradeTaskInfo', {})).ResultCode).toBe('InvalidTaskId');
    expect((await u.a('GetMcubeUpgradeTaskInfo', { TaskId: 999_999 })).ResultCode).toBe('UpgradeTaskNotFound');
    const err = await openapiCore(u.srv.host, u.srv.creds)('QueryMdsUpgradeTaskDetail', { AppId: u.srv.creds.appId, WorkspaceId: 'default' }).catch((e) => e);
    expect([err.statusCode, err.code]).toEqual([400, 'MissingParameter']);
  });

  it('the time windows of a TestFlight package share its tester limit (InstallAmount)', async () => {
    const tf = await createPackage(u.a, { Platform: 'iOS', AppVersion: '5.3.0', AppstoreUrl: 'https://testflight.apple.com/join/y', ValidDays: 30, InstallAmount: 100 });
    const window = (GreyNum: number) => ({ PackageInfoId: tf, PublishType: 2, PublishMode: 2, UpgradeType: 202, GreyEndtimeData: utcIn(86_400_000), GreyNum });
    expect((await u.a('CreateMcubeUpgradeTask', window(60))).ResultCode).toBe('OK');
    const before = await stateOf(u.srv);
    const over = await u.a('CreateMcubeUpgradeTask', window(50));
    expect(over.ResultCode).toBe('InvalidGreyNum');
    expect(over.ResultMessage).toContain('takes 100 (InstallAmount) and its time-window tasks already hold 60');
    expect(await stateOf(u.srv)).toBe(before);
    expect((await u.a('CreateMcubeUpgradeTask', window(40))).ResultCode).toBe('OK');
    // whitelist tasks are not counted against it (their lists change after the task is made)
    expect((await u.a('CreateMcubeUpgradeTask', { PackageInfoId: tf, PublishType: 2, PublishMode: 1, WhitelistIds: String(wl.a), UpgradeType: 204 })).ResultCode).toBe('OK');
  });

  it('at most 10 unfinished tasks per package', async () => {
    const id = await androidPackage(u.a, '7.0.0');
    for (let i = 0; i < 10; i++) await createUpgradeTask(u.a, id, { UpgradeType: 204 });
    expect((await u.a('ListMcubeUpgradeTasks', { PackageId: String(id) })).ListTaskResult.TaskInfo).toHaveLength(10);
    expect((await u.a('GetMcubeUpgradePackageInfo', { PackageId: id })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO.AllowCreateTask).toBe(false);
    const before = await stateOf(u.srv);
    const r = await u.a('CreateMcubeUpgradeTask', { PackageInfoId: id, PublishType: 3, UpgradeType: 202 });
    expect(r.ResultCode).toBe('TooManyTasks');
    expect(await stateOf(u.srv)).toBe(before);
  });
});
