import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, utcIn } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { androidPackage, createPackage, createUpgradeTask, md5, fakeApp, startUpgradeServer, upload, type Upgrade } from './upgrade-fixtures.js';

let u: Upgrade;
const lists = { beta: 0, vip: 0 };

/** A device asking /device/upgrade/check, with the workspace's client key. */
async function check(fields: Record<string, string>, o: { method?: 'GET' | 'POST'; clientKey?: string | null; json?: boolean } = {}) {
  const headers: Record<string, string> = {};
  const key = o.clientKey === undefined ? u.srv.creds.clientKey : o.clientKey;
  if (key) headers['x-mcube-client-key'] = key;
  let url = `${u.srv.url}/device/upgrade/check`;
  let body: string | undefined;
  if (o.method === 'GET') url += '?' + new URLSearchParams(fields).toString();
  else if (o.json) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(fields);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(fields).toString();
  }
  const res = await fetch(url, { method: o.method ?? 'POST', headers, body });
  return { status: res.status, body: JSON.parse(await res.text()) };
}

/** A sound answer (200, a result status) that does not offer `task`: another task or none. */
function expectNoOffer(res: { status: number; body: any }, task: number) {
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.resultCode).toBe(100);
  expect([201, 202, 203, 204, 205, 206]).toContain(res.body.resultStatus);
  expect(res.body.taskId).not.toBe(task);
}

const android = (client: string, userId = '', extra: Record<string, string> = {}) => check({ platform: 'android', client, ...(userId ? { userId } : {}), ...extra });

async function whitelist(name: string, ids: string): Promise<number> {
  const id = Number((await u.a('CreateMcubeWhitelist', { WhiteListName: name, WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
  expect((await u.a('UpdateMcubeWhitelist', { Id: String(id), KeyIds: ids })).ResultCode).toBe('OK');
  return id;
}

beforeAll(async () => {
  u = await startUpgradeServer({ MCUBE_DEVICE_RATE_PER_MIN: '100000' });
  lists.beta = await whitelist('beta', 'tester-1,tester-2');
  lists.vip = await whitelist('vip', 'vip-1');
}, 60_000);

afterAll(async () => {
  await u?.srv.close();
});

describe('/device/upgrade/check', () => {
  it('nothing released: 201 (no new version)', async () => {
    await androidPackage(u.a, '3.0.0');
    expect(await android('1.0.0', 'anyone')).toEqual({ status: 200, body: { resultCode: 100, resultStatus: 201, upgradeType: 201 } });
  });

  it('an official task: older clients of its platform get the mode, the prompt and the stored package; others get 201', async () => {
    const apk = await fakeApp('v4');
    const pkg = await createPackage(u.a, { Platform: 'Android', AppVersion: '4.0.0', FileUrl: await upload(u.a, 'shop-4.apk', apk) });
    const task = await createUpgradeTask(u.a, pkg, { PublishType: 3, UpgradeType: 202, UpgradeContent: 'Version 4 is here' });
    const r = await android('3.9.9', 'someone');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      resultCode: 100, resultStatus: 202, upgradeType: 202, forceUpgrade: false, silentPeriodDays: 3, newestVersion: '4.0.0', guideMemo: 'Version 4 is here',
      packageType: 'apk', platform: 'Android', md5: md5(apk), fileSize: apk.length, packageId: pkg, taskId: task,
      // the same under the iOS SDK's callback keys (guide §4.2.2)
      message: 'Version 4 is here', upgradeShortVersion: '4.0.0', upgradeFullVersion: '4.0.0',
    });
    const dl = await fetch(r.body.downloadURL);
    expect(Buffer.from(await dl.arrayBuffer()).equals(apk)).toBe(true);
    // a device without any user id still gets an official release
    expect((await android('3.0')).body.resultStatus).toBe(202);
    for (const client of ['4.0', '4.0.0', '4.1', '10.0']) expect((await android(client, 'someone')).body.resultStatus, client).toBe(201);
    expect((await check({ platform: 'ios', client: '1.0', userId: 'someone' })).body.resultStatus).toBe(201);
    // GET and JSON bodies work the same
    expect((await check({ platform: 'Android', client: '3.0', userId: 'x' }, { method: 'GET' })).body.taskId).toBe(task);
    expect((await check({ platform: 'android', client: '3.0', userId: 'x' }, { json: true })).body.taskId).toBe(task);
  });

  it('priority: the higher version first; for one version the latest of two whitelist tasks, and an official task over both', async () => {
    const v5 = await androidPackage(u.a, '5.0.0');
    const wlA = await createUpgradeTask(u.a, v5, { PublishType: 2, PublishMode: 1, WhitelistIds: String(lists.beta), UpgradeType: 202 });
    expect((await android('3.0', 'tester-1')).body).toMatchObject({ newestVersion: '5.0.0', taskId: wlA, resultStatus: 202 });
    expect((await android('3.0', 'stranger')).body).toMatchObject({ newestVersion: '4.0.0' });
    // a newer whitelist task for the same version (guide's example: task B, forced, wins over task A)
    const wlB = await createUpgradeTask(u.a, v5, { PublishType: 2, PublishMode: 1, WhitelistIds: `${lists.beta},${lists.vip}`, UpgradeType: 206 });
    expect((await android('3.0', 'tester-1')).body).toMatchObject({ taskId: wlB, resultStatus: 206, forceUpgrade: true, silentPeriodDays: 0 });
    expect((await android('3.0', 'vip-1')).body).toMatchObject({ taskId: wlB });
    // an official task of the same version outranks both
    const off = await createUpgradeTask(u.a, v5, { PublishType: 3, UpgradeType: 204 });
    expect((await android('3.0', 'tester-1')).body).toMatchObject({ taskId: off, resultStatus: 204 });
    expect((await android('3.0', 'stranger')).body).toMatchObject({ taskId: off, newestVersion: '5.0.0' });
    // a higher version reaches only its whitelist; everybody else keeps the 5.0.0 official release
    const v6 = await androidPackage(u.a, '6.0.0');
    const v6task = await createUpgradeTask(u.a, v6, { PublishType: 2, PublishMode: 1, WhitelistIds: String(lists.vip), UpgradeType: 202 });
    expect((await android('3.0', 'vip-1')).body).toMatchObject({ taskId: v6task, newestVersion: '6.0.0' });
    expect((await android('5.0.0', 'vip-1')).body).toMatchObject({ taskId: v6task });
    expect((await android('5.0.0', 'tester-1')).body.resultStatus).toBe(201);
  });

  it('priority by type holds whatever the order of creation: an older whitelist task outranks a newer time window, an older official task a newer whitelist task', async () => {
    // tenant B's app: a scope of its own, with nothing released yet
    const key = String((await u.srv.node.deps.db.knex('workspaces').where({ app_id: u.B.appId, workspace_id: u.B.workspaceId }).first('client_key')).client_key);
    const ask = (userId: string) => check({ platform: 'android', client: '1.0', userId }, { clientKey: key });
    const wl = Number((await u.b('CreateMcubeWhitelist', { WhiteListName: 'b-testers', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    expect((await u.b('UpdateMcubeWhitelist', { Id: String(wl), KeyIds: 'b-tester' })).ResultCode).toBe('OK');
    const v2 = await androidPackage(u.b, '2.0.0');
    const wlTask = await createUpgradeTask(u.b, v2, { PublishType: 2, PublishMode: 1, WhitelistIds: String(wl), UpgradeType: 202 });
    const window = await createUpgradeTask(u.b, v2, { PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(86_400_000), GreyNum: 1000, UpgradeType: 204 });
    expect((await ask('b-tester')).body).toMatchObject({ taskId: wlTask, resultStatus: 202 });
    expect((await ask('b-other')).body).toMatchObject({ taskId: window, resultStatus: 204 });
    const v3 = await androidPackage(u.b, '3.0.0');
    const official = await createUpgradeTask(u.b, v3, { PublishType: 3, UpgradeType: 204 });
    const wlLater = await createUpgradeTask(u.b, v3, { PublishType: 2, PublishMode: 1, WhitelistIds: String(wl), UpgradeType: 206 });
    expect((await ask('b-tester')).body).toMatchObject({ taskId: official, resultStatus: 204, newestVersion: '3.0.0' });
    expect((await ask('b-other')).body).toMatchObject({ taskId: official });
    expect(wlLater).toBeGreaterThan(official);
  });

  it('advanced rules: city, model, network and OS version must all match', async () => {
    const pkg = await createPackage(u.a, { Platform: 'iOS', AppVersion: '7.0.0', AppstoreUrl: 'https://apps.apple.com/app/id7' });
    const rules = JSON.stringify([
      { ruleElement: 'city', operation: 1, value: 'Shanghai,Beijing' },
      { ruleElement: 'osVersion', operation: 3, value: '13.0-17.9' },
      { ruleElement: 'netType', operation: 1, value: '4G, WIFI' },
    ]);
    const wl = await whitelist('ios-testers', 'ios-1,ios-2');
    const task = await createUpgradeTask(u.a, pkg, { PublishType: 2, PublishMode: 1, WhitelistIds: String(wl), GreyConfigInfo: rules, UpgradeType: 204 });
    const ios = (fields: Record<string, string>) => check({ platform: 'ios', client: '6.0', userId: 'ios-1', netType: 'WIFI', ...fields });
    // needClientNetType: the network types of the include rule, a key of the iOS SDK's callback dictionary (guide §4.2.2)
    expect((await ios({ city: 'Shanghai', system: '16.2' })).body).toMatchObject({ taskId: task, downloadURL: 'https://apps.apple.com/app/id7', packageType: 'appstore', md5: '', needClientNetType: '4G,WIFI' });
    expect((await ios({ city: 'Shanghai', system: '16.2', netType: '3G' })).body.resultStatus).toBe(201);
    expect((await ios({ city: 'shanghai', system: '13.0' })).body.taskId).toBe(task);
    expect((await ios({ city: 'Hangzhou', system: '16.2' })).body.resultStatus).toBe(201);
    expect((await ios({ city: 'Beijing', system: '18.0' })).body.resultStatus).toBe(201);
    expect((await ios({ city: 'Beijing' })).body.resultStatus).toBe(201);
    expect((await check({ platform: 'ios', client: '6.0', userId: 'ios-9', city: 'Beijing', system: '16.0' })).body.resultStatus).toBe(201);
  });

  it('a time window admits GreyNum distinct users; an admitted user keeps it, nobody takes a second slot', async () => {
    const pkg = await createPackage(u.a, { Platform: 'iOS', AppVersion: '8.0.0', AppstoreUrl: 'https://apps.apple.com/app/id8' });
    const task = await createUpgradeTask(u.a, pkg, { PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(86_400_000), GreyNum: 2, UpgradeType: 204 });
    const ios = (userId: string) => check({ platform: 'ios', client: '7.5', userId });
    expect((await ios('w-1')).body.taskId).toBe(task);
    expect((await ios('w-1')).body.taskId).toBe(task);
    expect((await ios('w-2')).body.taskId).toBe(task);
    expectNoOffer(await ios('w-3'), task);
    expect((await ios('w-1')).body.taskId).toBe(task);
    // a device with no user id cannot take a slot
    expectNoOffer(await check({ platform: 'ios', client: '7.5' }), task);
    const rows = await u.srv.node.deps.db.knex('upgrade_admissions').where({ task_id: task }).orderBy('user_key').pluck('user_key');
    expect(rows).toEqual(['w-1', 'w-2']);
    const listed = (await u.a('ListMcubeUpgradeTasks', { PackageId: String(pkg) })).ListTaskResult.TaskInfo[0];
    expect(listed).toMatchObject({ Id: task, RealGreyNum: 2, GreyUv: 2 });
  });

  it('every device that asks while the plans are being rebuilt after a release gets the new release', async () => {
    const warm = await android('1.0', 'burst-0');
    expect(warm.status).toBe(200);
    const pkg = await androidPackage(u.a, '50.0.0');
    const task = await createUpgradeTask(u.a, pkg, { PublishType: 3, UpgradeType: 202 });
    // the release is committed and answered: the next checks, however many arrive at once, all see it
    const burst = await Promise.all(Array.from({ length: 20 }, (_, i) => android('1.0', `burst-${i}`)));
    expect(burst.map((r) => r.body.taskId)).toEqual(Array(20).fill(task));
    expect((await u.a('DeleteMcubeUpgradeResource', { Id: String(pkg) })).ResultCode).toBe('OK');
  });

  it('deleting the package stops the offer at once; other tenants and bad requests are refused', async () => {
    const pkg = await androidPackage(u.a, '9.0.0');
    const task = await createUpgradeTask(u.a, pkg, { PublishType: 3, UpgradeType: 206 });
    expect((await android('8.0', 'any')).body.taskId).toBe(task);
    expect((await u.a('DeleteMcubeUpgradeResource', { Id: String(pkg) })).ResultCode).toBe('OK');
    expectNoOffer(await android('8.0', 'any'), task);

    // B's release never reaches A's devices, and A's client key cannot name B's app
    const bPkg = await androidPackage(u.b, '99.0.0');
    await createUpgradeTask(u.b, bPkg, { PublishType: 3, UpgradeType: 206 });
    const mine = await android('1.0', 'any');
    expect(mine.status).toBe(200);
    expect(mine.body.newestVersion).not.toBe('99.0.0');
    expect((await android('1.0', 'any', { appId: u.B.appId })).status).toBe(401);
    expect((await check({ platform: 'android', client: '1.0' }, { clientKey: null })).status).toBe(401);
    expect((await check({ platform: 'android', client: '1.0' }, { clientKey: 'mck_nosuchkey' })).status).toBe(401);
    expect((await check({ platform: 'symbian', client: '1.0' })).status).toBe(400);
    expect((await check({ platform: 'android' })).status).toBe(400);
    expect((await check({ platform: 'android', client: 'latest' })).status).toBe(400);
    expect((await check({ platform: 'android', client: 'beta-5.2' })).status).toBe(400);
    expect((await fetch(`${u.srv.url}/device/upgrade/check`, { method: 'PUT' })).status).toBe(405);
    // the offline-package endpoint is untouched
    expect((await fetch(`${u.srv.url}/device/nebula/update`, { method: 'POST', headers: { 'x-mcube-client-key': u.srv.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded' }, body: 'platform=android&client=1.0' })).status).toBe(200);
  });
});

describe('iOS distribution channels and TestFlight expiry', () => {
  let clock = Date.now();
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0', MCUBE_DEVICE_RATE_PER_MIN: '100000' }, { now: () => clock });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it("the guide's example, aimed with a clientVersion rule: tasks A (single reminder) and B (forced) for version 4.0 apps", async () => {
    const call = mcube(srv);
    const list = Number((await call('CreateMcubeWhitelist', { WhiteListName: 'example', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    expect((await call('UpdateMcubeWhitelist', { Id: String(list), KeyIds: 'u-40' })).ResultCode).toBe('OK');
    const pkg = await androidPackage(call, '5.0.0');
    const for40 = JSON.stringify([{ ruleElement: 'clientVersion', operation: 3, value: '4.0-4.0.99' }]);
    await createUpgradeTask(call, pkg, { PublishType: 2, PublishMode: 1, WhitelistIds: String(list), UpgradeType: 202, GreyConfigInfo: for40 });
    const b = await createUpgradeTask(call, pkg, { PublishType: 2, PublishMode: 1, WhitelistIds: String(list), UpgradeType: 206, GreyConfigInfo: for40 });
    const ask = async (client: string) =>
      JSON.parse(
        await (
          await fetch(`${srv.url}/device/upgrade/check`, {
            method: 'POST',
            headers: { 'x-mcube-client-key': srv.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ platform: 'android', client, userId: 'u-40' }),
          })
        ).text(),
      );
    expect(await ask('4.0')).toMatchObject({ taskId: b, upgradeType: 206, forceUpgrade: true });
    expect(await ask('4.0.3')).toMatchObject({ taskId: b });
    // a versionName with a suffix is the version before it: "4.0-beta.3" is 4.0
    expect(await ask('4.0-beta.3')).toMatchObject({ taskId: b });
    expect(await ask('4.0.1+build7')).toMatchObject({ taskId: b });
    // other versions are not the tasks' audience
    expect((await ask('3.0')).resultStatus).toBe(201);
    expect((await ask('4.1')).resultStatus).toBe(201);
  });

  it('an enterprise build is offered only enterprise packages, an App Store build App Store and TestFlight ones, until the TestFlight build expires', async () => {
    const call = mcube(srv);
    const list = Number((await call('CreateMcubeWhitelist', { WhiteListName: 'ent', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    expect((await call('UpdateMcubeWhitelist', { Id: String(list), KeyIds: 'ent-user,tester' })).ResultCode).toBe('OK');
    const ent = await createPackage(call, { Platform: 'iOS', IsEnterprise: 1, AppVersion: '5.0.0', FileUrl: await upload(call, 'Shop.ipa', await fakeApp('ent')) });
    const entTask = await createUpgradeTask(call, ent, { PublishType: 2, PublishMode: 1, WhitelistIds: String(list) });
    const store = await createPackage(call, { Platform: 'iOS', AppVersion: '6.0.0', AppstoreUrl: 'https://apps.apple.com/app/id6' });
    const storeTask = await createUpgradeTask(call, store, { PublishType: 3 });
    const tf = await createPackage(call, { Platform: 'iOS', AppVersion: '7.0.0', AppstoreUrl: 'https://testflight.apple.com/join/Ab', ValidDays: 1, InstallAmount: 100 });
    const testers = Number((await call('CreateMcubeWhitelist', { WhiteListName: 'tf', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    expect((await call('UpdateMcubeWhitelist', { Id: String(testers), KeyIds: 'tester' })).ResultCode).toBe('OK');
    const tfTask = await createUpgradeTask(call, tf, { PublishType: 2, PublishMode: 1, WhitelistIds: String(testers) });
    const ask = async (userId: string, channel?: string) => {
      const body = new URLSearchParams({ platform: 'ios', client: '4.0', userId, ...(channel ? { channel } : {}) });
      const res = await fetch(`${srv.url}/device/upgrade/check`, { method: 'POST', headers: { 'x-mcube-client-key': srv.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded' }, body });
      return { status: res.status, body: JSON.parse(await res.text()) };
    };
    expect((await ask('ent-user', 'enterprise')).body).toMatchObject({ taskId: entTask, packageType: 'enterprise', newestVersion: '5.0.0' });
    expect((await ask('ent-user')).body).toMatchObject({ taskId: storeTask, packageType: 'appstore' });
    expect((await ask('ent-user', 'appstore')).body.taskId).toBe(storeTask);
    expect((await ask('someone', 'enterprise')).body.resultStatus).toBe(201);
    expect((await ask('tester')).body).toMatchObject({ taskId: tfTask, packageType: 'testflight' });
    expect((await ask('tester', 'enterprise')).body.taskId).toBe(entTask);
    expect((await ask('tester', 'playstore')).status).toBe(400);
    // Android clients may send their own channel ("official", "rc"): it is no distribution channel there
    for (const channel of ['official', 'huawei']) {
      const res = await fetch(`${srv.url}/device/upgrade/check`, { method: 'POST', headers: { 'x-mcube-client-key': srv.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ platform: 'android', client: '4.0', userId: 'tester', channel }) });
      expect(res.status, channel).toBe(200);
    }
    // a day later the TestFlight build has expired (ValidDays 1): the App Store release again
    clock += 86_400_000 + 1000;
    expect((await ask('tester')).body.taskId).toBe(storeTask);
  });
});

describe('download verification on the device check', () => {
  it('a package with NeedCheck 1 is offered as its code page, never as the file\'s own address', async () => {
    const apk = await fakeApp('verified');
    const pkg = await createPackage(u.a, { Platform: 'Android', AppVersion: '99.0.0', NeedCheck: 1, FileUrl: await upload(u.a, 'verified.apk', apk) });
    const task = await createUpgradeTask(u.a, pkg, { PublishType: 3, UpgradeType: 204 });
    const info = (await u.a('GetMcubeUpgradePackageInfo', { PackageId: pkg })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    const r = await android('98.0', 'someone');
    expect(r.body).toMatchObject({ taskId: task, needCheck: true, downloadURL: info.QrcodeUrl });
    expect(r.body.downloadURL).toContain('/download/');
    // the page asks for the code; the file is not served without it
    const page = await fetch(r.body.downloadURL);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(Buffer.from(await page.arrayBuffer()).equals(apk)).toBe(false);
    expect((await u.a('DeleteMcubeUpgradeResource', { Id: String(pkg) })).ResultCode).toBe('OK');
  });
});
