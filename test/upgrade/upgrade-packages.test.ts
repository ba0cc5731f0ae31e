import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_WRONG_CODES_PER_PACKAGE_PER_MIN } from '../../packages/server/src/features/upgrade/download-gate.js';
import { openapiCore, popCore } from '../helpers/vendor-clients.js';
import { listKeys } from '../reliability/lib/db-state.js';
import {
  androidPackage, countingServer, createPackage, createUpgradeTask, fakeApp, md5, PNG, startUpgradeServer, stateOf, TGZ, upload, type Upgrade,
} from './upgrade-fixtures.js';

let u: Upgrade;
let foreign: Awaited<ReturnType<typeof countingServer>>;

beforeAll(async () => {
  u = await startUpgradeServer();
  foreign = await countingServer();
}, 60_000);

afterAll(async () => {
  await foreign?.close();
  await u?.srv.close();
});

const list = async (fields: Record<string, unknown> = {}) => (await u.a('ListMcubeUpgradePackages', { PageSize: 200, ...fields })).ListPackagesResult;
const info = async (id: number | string) => u.a('GetMcubeUpgradePackageInfo', { PackageId: id });

describe('CreateMcubeUpgradePackage, ListMcubeUpgradePackages, GetMcubeUpgradePackageInfo', () => {
  it('an uploaded .apk is copied into the store with its md5 and size, and listed with the vendor field names', async () => {
    const apk = await fakeApp('first');
    const fileUrl = await upload(u.a, 'shop.apk', apk);
    const r = await u.a('CreateMcubeUpgradePackage', { Platform: 'android', AppVersion: '2.1.0', FileUrl: fileUrl, Desc: 'fixes', OnexFlag: true });
    expect(r.ResultCode).toBe('OK');
    expect(r.ResultContent).toMatchObject({ Success: true, RequestId: r.RequestId });
    const id = Number(r.ResultContent.Data);
    expect(id).toBeGreaterThan(0);

    const got = await info(id);
    expect(got.ResultCode).toBe('OK');
    expect(got.GetPackageResult.Success).toBe(true);
    expect(got.GetPackageResult.PackageInfo.MobileTestFlightConfigDO).toBeUndefined();
    const p = got.GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    expect(p).toMatchObject({
      Id: id, Platform: 'Android', PackageType: 'apk', ProductVersion: '2.1.0', InnerVersion: '2.1.0', ChangeLog: 'fixes', Md5: md5(apk), ClientFileSize: apk.length,
      IsEnterprise: 0, NeedCheck: 0, VerificationCode: '', PublishPeriod: 0, IsRelease: 0, AllowCreateTask: true, AppCode: `${u.srv.creds.appId}-${u.srv.creds.workspaceId}`,
      Creator: u.srv.creds.accessKeyId, AppstoreUrl: '',
    });
    expect(p.OssPath).toMatch(new RegExp(`^pkg/${u.srv.creds.appId}/default/upgrade/android/2\\.1\\.0-[0-9a-f]{12}/shop\\.apk$`));
    expect(p.GmtCreate).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(p.QrcodeUrl).toBe(p.DownloadUrl);
    // the device download address serves the stored copy, byte for byte
    const dl = await fetch(p.DownloadUrl);
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(apk)).toBe(true);
    // the copy is a live object of the blob registry, independent of the (expiring) upload
    expect(await u.srv.node.deps.db.knex('blobs').where({ key: p.OssPath }).first('state')).toEqual({ state: 'live' });

    const listed = (await list()).Packages.find((x: any) => x.Id === id);
    expect(listed).toEqual({ ...p, DownloadUrl: listed.DownloadUrl, QrcodeUrl: listed.QrcodeUrl, IosSymbol: '' });
  });

  it('an icon whose upload name is as long as names go is stored under a shortened name', async () => {
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64)]);
    const iconName = `${'i'.repeat(251)}.png`;
    const r = await u.a('CreateMcubeUpgradePackage', {
      Platform: 'Android', AppVersion: '2.0.7', FileUrl: await upload(u.a, 'long.apk', await fakeApp('long')), IconFileUrl: await upload(u.a, iconName, png), OnexFlag: true,
    });
    expect(r.ResultCode, JSON.stringify(r)).toBe('OK');
    const keys = await u.srv.node.deps.db.knex('blobs').where('key', 'like', '%/icon-%').select('key');
    const icon = keys.map((k: { key: string }) => k.key).find((k: string) => k.includes('/2.0.7-'))!;
    expect(icon).toMatch(/\/icon-i+\.png$/);
    expect(icon.slice(icon.lastIndexOf('/') + 1).length).toBeLessThanOrEqual(125);
  });

  it('iOS App Store, TestFlight and enterprise packages, and an Android download link', async () => {
    const store = await createPackage(u.a, { Platform: 'iOS', AppVersion: '3.0.0', AppstoreUrl: 'https://apps.apple.com/app/id1234567890', BundleId: 'com.example.shop' });
    const sp = (await info(store)).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    expect(sp).toMatchObject({ Platform: 'iOS', PackageType: 'appstore', AppstoreUrl: 'https://apps.apple.com/app/id1234567890', DownloadUrl: 'https://apps.apple.com/app/id1234567890', Md5: '', ClientFileSize: 0, OssPath: '', QrcodeUrl: '', ClientName: 'com.example.shop' });

    const tf = await createPackage(u.a, { Platform: 'iOS', AppVersion: '3.1.0', AppstoreUrl: 'https://testflight.apple.com/join/AbCdEf', ValidDays: 90, InstallAmount: 10000 });
    const tfInfo = (await info(tf)).GetPackageResult.PackageInfo;
    expect(tfInfo.UpgradeBaseInfoDO.PackageType).toBe('testflight');
    const created = Date.parse(tfInfo.UpgradeBaseInfoDO.GmtCreate.replace(' ', 'T') + 'Z');
    expect(tfInfo.MobileTestFlightConfigDO).toMatchObject({ Id: tf, UpgradeId: tf, InstallAmount: 10000 });
    expect(Date.parse(tfInfo.MobileTestFlightConfigDO.InvalidTime.replace(' ', 'T') + 'Z') - created).toBe(90 * 86_400_000);

    const ipa = await fakeApp('ipa');
    const ent = await createPackage(u.a, {
      Platform: 'iOS', IsEnterprise: 1, AppVersion: '3.0.0', NeedCheck: 1, FileUrl: await upload(u.a, 'Shop.ipa', ipa),
      IconFileUrl: await upload(u.a, 'icon.png', PNG), IosSymbolfileUrl: await upload(u.a, 'Shop.dSYM.tgz', TGZ),
    });
    const ep = (await info(ent)).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    expect(ep).toMatchObject({ PackageType: 'enterprise', IsEnterprise: 1, NeedCheck: 1, Md5: md5(ipa), ClientFileSize: ipa.length });
    expect(ep.VerificationCode).toMatch(/^\d{6}$/);
    const sym = await fetch(ep.IosSymbol);
    expect(Buffer.from(await sym.arrayBuffer()).equals(TGZ)).toBe(true);
    const objects = await listKeys(u.srv.node.deps.blobs, ep.OssPath.slice(0, ep.OssPath.lastIndexOf('/') + 1));
    expect(objects.map((k) => k.split('/').pop()).sort()).toEqual(['Shop.ipa', 'icon-icon.png', 'symbol-Shop.dSYM.tgz']);

    // download verification: the QR code opens a page of this service that asks for the code, then redirects to the file
    expect(ep.QrcodeUrl).toMatch(new RegExp(`^${u.srv.url}/download/${ent}\\.[A-Za-z0-9_-]{22}$`));
    const form = await fetch(ep.QrcodeUrl);
    expect(form.status).toBe(200);
    expect(form.headers.get('content-type')).toMatch(/text\/html/);
    expect(await form.text()).toMatch(/<form method="post">[\s\S]*name="code"/);
    const submit = (code: string, url = ep.QrcodeUrl) =>
      fetch(url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ code }) });
    const wrongCode = ep.VerificationCode === '000000' ? '000001' : '000000';
    const refused = await submit(wrongCode);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('location')).toBeNull();
    const ok = await submit(ep.VerificationCode);
    expect(ok.status).toBe(302);
    const location = ok.headers.get('location')!;
    const file = await fetch(location);
    expect(Buffer.from(await file.arrayBuffer()).equals(ipa)).toBe(true);
    // a link signed for this caller, good for minutes: not the package's shared one, which works for days without the code
    expect(location.split('?')[0]).toBe(ep.DownloadUrl.split('?')[0]);
    expect(location).not.toBe(ep.DownloadUrl);
    const expires = Number(new URL(location).searchParams.get('X-Mcube-Expires'));
    expect(expires * 1000 - Date.now()).toBeGreaterThan(200_000);
    expect(expires * 1000 - Date.now()).toBeLessThanOrEqual(300_000);
    // another package id, or a forged tag, is no download at all
    expect((await fetch(ep.QrcodeUrl.replace(`/download/${ent}.`, `/download/${ent + 1}.`))).status).toBe(404);
    // an id past the column's range is no download either (PostgreSQL would refuse the query)
    expect((await fetch(ep.QrcodeUrl.replace(`/download/${ent}.`, '/download/99999999999.'))).status).toBe(404);
    expect((await submit(ep.VerificationCode, ep.QrcodeUrl.slice(0, -3) + 'AAA')).status).toBe(404);
    // wrong codes are limited per caller (a 6-digit code has a million values), counted per minute: start the
    // counting well inside a minute, so that the window does not turn over among the requests below
    const toNextMinute = 60_000 - (Date.now() % 60_000);
    if (toNextMinute < 10_000) await new Promise((r) => setTimeout(r, toNextMinute + 50));
    const wrongBefore = 1;
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) statuses.push((await submit(wrongCode)).status);
    expect(statuses.slice(0, 19).every((x) => x === 403)).toBe(true);
    expect(statuses[20]).toBe(429);
    expect((await submit(ep.VerificationCode)).status).toBe(429);
    // ... and not for everyone else: one caller's guessing used to lock every user out of the download
    const from = (address: string, code: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(ep.QrcodeUrl, { method: 'POST', localAddress: address, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (r) => {
          r.resume();
          resolve(r.statusCode!);
        });
        req.on('error', reject);
        req.end(new URLSearchParams({ code }).toString());
      });
    expect(await from('127.0.0.2', ep.VerificationCode)).toBe(302);
    // many callers together: at most MAX_WRONG_CODES_PER_PACKAGE_PER_MIN wrong codes a minute on the package
    let refusedTogether = 0;
    for (let a = 3; a < 14; a++) for (let i = 0; i < 20; i++) refusedTogether += (await from(`127.0.0.${a}`, wrongCode)) === 403 ? 1 : 0;
    // this minute's wrong codes so far: the caller's 19 refused above (the earlier one may have been in another minute)
    expect(refusedTogether).toBeGreaterThanOrEqual(MAX_WRONG_CODES_PER_PACKAGE_PER_MIN - 19 - wrongBefore);
    expect(refusedTogether).toBeLessThanOrEqual(MAX_WRONG_CODES_PER_PACKAGE_PER_MIN - 19);
    expect(await from('127.0.0.99', ep.VerificationCode)).toBe(429);

    const link = `${foreign.url}/downloads/shop-4.0.apk`;
    // a code cannot guard a link anyone may open
    expect((await u.a('CreateMcubeUpgradePackage', { Platform: 'Android', AppVersion: '4.0', DownloadUrl: link, NeedCheck: 1, OnexFlag: true })).ResultCode).toBe('InvalidNeedCheck');
    const linked = await createPackage(u.a, { Platform: 'Android', AppVersion: '4.0', DownloadUrl: link, LargeIconUrl: `${foreign.url}/big.png` });
    expect((await info(linked)).GetPackageResult.PackageInfo.UpgradeBaseInfoDO).toMatchObject({ DownloadUrl: link, QrcodeUrl: link, Md5: '', OssPath: '' });
    const hap = await createPackage(u.a, { Platform: 'Harmony', AppVersion: '1.0.0', HarmonyLabel: 'Shop', FileUrl: await upload(u.a, 'entry.hap', await fakeApp('hap')) });
    expect((await info(hap)).GetPackageResult.PackageInfo.UpgradeBaseInfoDO).toMatchObject({ Platform: 'Harmony', PackageType: 'hap', ClientName: 'Shop' });
    expect(foreign.hits()).toBe(0);
  });

  it('lists newest first with PageNum / PageSize, and only the caller\'s app', async () => {
    await androidPackage(u.b, '9.9.9');
    const all = await list();
    expect(all.Packages.length).toBe(all.TotalCount);
    const ids = all.Packages.map((p: any) => p.Id);
    expect(ids).toEqual([...ids].sort((x: number, y: number) => y - x));
    const mine = await u.srv.node.deps.db.knex('upgrade_packages').where({ app_id: u.srv.creds.appId }).pluck('id');
    expect([...ids].sort()).toEqual(mine.map(Number).sort());
    expect(JSON.stringify(all)).not.toContain('9.9.9');
    const p1 = await list({ PageNum: 1, PageSize: 2 });
    const p2 = await list({ PageNum: 2, PageSize: 2 });
    expect(p1).toMatchObject({ CurrentPage: 1, PageSize: 2, TotalCount: all.TotalCount, HasMore: true, Success: true });
    expect(p1.Packages.map((p: any) => p.Id)).toEqual(ids.slice(0, 2));
    expect(p2.Packages.map((p: any) => p.Id)).toEqual(ids.slice(2, 4));
    const last = await list({ PageNum: Math.ceil(all.TotalCount / 2), PageSize: 2 });
    expect(last.HasMore).toBe(false);
    // default page size 20
    expect((await u.a('ListMcubeUpgradePackages', {})).ListPackagesResult.PageSize).toBe(20);
  });

  it('the other vendor signatures reach it too: HMAC-SHA1 (openapi-core v2) and pop-core', async () => {
    const v2 = openapiCore(u.srv.host, u.srv.creds, 'v2');
    const common = { AppId: u.srv.creds.appId, WorkspaceId: u.srv.creds.workspaceId, TenantId: u.srv.creds.tenantId };
    expect((await v2('ListMcubeUpgradePackages', { ...common, PageSize: 1 })).body.ListPackagesResult.Packages.length).toBe(1);
    const pop = popCore(u.srv.url, u.srv.creds, 'POST');
    const r = await pop('ListMcubeUpgradePackages', { ...common, PageSize: 1 });
    expect(r.ResultCode).toBe('OK');
  });
});

describe('refused packages change nothing', () => {
  const refusals: Array<[string, () => Promise<Record<string, unknown>>, string]> = [
    ['no Platform', async () => ({ AppVersion: '1.0', DownloadUrl: 'https://dl.example.com/a.apk' }), 'InvalidPlatform'],
    ['an unknown Platform', async () => ({ Platform: 'Symbian', AppVersion: '1.0', DownloadUrl: 'https://dl.example.com/a.apk' }), 'InvalidPlatform'],
    ['no AppVersion', async () => ({ Platform: 'Android', DownloadUrl: 'https://dl.example.com/a.apk' }), 'InvalidAppVersion'],
    ['a version that is not dotted numeric', async () => ({ Platform: 'Android', AppVersion: 'v1.0-beta', DownloadUrl: 'https://dl.example.com/a.apk' }), 'InvalidAppVersion'],
    ['neither FileUrl nor DownloadUrl', async () => ({ Platform: 'Android', AppVersion: '5.0' }), 'InvalidFileUrl'],
    ['both FileUrl and DownloadUrl', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: await upload(u.a, 'a.apk', await fakeApp()), DownloadUrl: 'https://dl.example.com/a.apk' }), 'InvalidDownloadUrl'],
    ['a FileUrl on another host', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: `${foreign.url}/uploads/a.apk` }), 'InvalidFileUrl'],
    ['a FileUrl of another tenant\'s upload', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: await upload(u.b, 'b.apk', await fakeApp('b')) }), 'InvalidFileUrl'],
    ['a FileUrl naming no object', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: (await upload(u.a, 'gone.apk', await fakeApp())).replace('gone.apk', 'never.apk') }), 'FileNotFound'],
    ['a FileUrl that is not an .apk', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: await upload(u.a, 'a.zip', await fakeApp()) }), 'InvalidFileUrl'],
    ['an .apk that is not a zip archive', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: await upload(u.a, 'fake.apk', Buffer.from('MZ not an archive')) }), 'InvalidFileUrl'],
    ['an .ipa for Android', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: await upload(u.a, 'a.ipa', await fakeApp()) }), 'InvalidFileUrl'],
    ['an icon that is not a picture', async () => ({ Platform: 'Android', AppVersion: '5.0', FileUrl: await upload(u.a, 'ok.apk', await fakeApp()), IconFileUrl: await upload(u.a, 'icon.png', Buffer.from('not a png at all')) }), 'InvalidIconFileUrl'],
    ['an icon of another host', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'https://dl.example.com/a.apk', IconFileUrl: `${foreign.url}/icon.png` }), 'InvalidFileUrl'],
    ['a symbol table of another host', async () => ({ Platform: 'iOS', IsEnterprise: 1, AppVersion: '5.0', DownloadUrl: 'https://dl.example.com/a.ipa', IosSymbolfileUrl: `${foreign.url}/s.tgz` }), 'InvalidFileUrl'],
    ['a DownloadUrl that is not http(s)', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'ftp://dl.example.com/a.apk' }), 'InvalidDownloadUrl'],
    ['a DownloadUrl with credentials', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'https://user:pw@dl.example.com/a.apk' }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: await upload(u.b, 'b.apk', await fakeApp('b')) }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage, its loopback host spelt localhost', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: (await upload(u.b, 'b.apk', await fakeApp('b'))).replace(/^http:\/\/127\.0\.0\.1/, 'http://localhost') }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage, its host spelt 0.0.0.0', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: (await upload(u.b, 'b.apk', await fakeApp('b'))).replace(/^http:\/\/127\.0\.0\.1/, 'http://0.0.0.0') }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage, its loopback host spelt as an IPv4-mapped IPv6 address', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: (await upload(u.b, 'b.apk', await fakeApp('b'))).replace(/^http:\/\/127\.0\.0\.1/, 'http://[::ffff:7f00:1]') }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage, its scheme and host spelt in capitals', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: (await upload(u.b, 'b.apk', await fakeApp('b'))).replace(/^http:\/\/127\.0\.0\.1/, 'HTTP://127.0.0.1') }), 'InvalidDownloadUrl'],
    // any spelling the storage would serve: a query, a fragment, percent-encoding
    ['a DownloadUrl into this server\'s storage with a query added', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: `${await upload(u.b, 'b.apk', await fakeApp('b'))}?x=1` }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage with a fragment', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: `${await upload(u.b, 'b.apk', await fakeApp('b'))}#f` }), 'InvalidDownloadUrl'],
    ['a DownloadUrl into this server\'s storage, percent-encoded', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: (await upload(u.b, 'b.apk', await fakeApp('b'))).replace('/_storage/', '/%5Fstorage/') }), 'InvalidDownloadUrl'],
    ['a LargeIconUrl into this server\'s storage with a query added', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'https://dl.example.com/a.apk', LargeIconUrl: `${await upload(u.b, 'i.png', Buffer.from('x'))}?a=b` }), 'InvalidLargeIconUrl'],
    ['an AppstoreUrl for Android', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'https://dl.example.com/a.apk', AppstoreUrl: 'https://apps.apple.com/app/id1' }), 'InvalidAppstoreUrl'],
    ['an App Store package without AppstoreUrl', async () => ({ Platform: 'iOS', AppVersion: '5.0' }), 'InvalidAppstoreUrl'],
    ['an App Store package with a FileUrl', async () => ({ Platform: 'iOS', AppVersion: '5.0', AppstoreUrl: 'https://apps.apple.com/app/id1', FileUrl: await upload(u.a, 'a.ipa', await fakeApp()) }), 'InvalidFileUrl'],
    ['download verification on an App Store package', async () => ({ Platform: 'iOS', AppVersion: '5.0', AppstoreUrl: 'https://apps.apple.com/app/id1', NeedCheck: 1 }), 'InvalidNeedCheck'],
    ['TestFlight ValidDays 0', async () => ({ Platform: 'iOS', AppVersion: '5.0', AppstoreUrl: 'https://testflight.apple.com/join/x', ValidDays: 0, InstallAmount: 10 }), 'InvalidValidDays'],
    ['TestFlight ValidDays 91', async () => ({ Platform: 'iOS', AppVersion: '5.0', AppstoreUrl: 'https://testflight.apple.com/join/x', ValidDays: 91, InstallAmount: 10 }), 'InvalidValidDays'],
    ['TestFlight without InstallAmount', async () => ({ Platform: 'iOS', AppVersion: '5.0', AppstoreUrl: 'https://testflight.apple.com/join/x', ValidDays: 30 }), 'InvalidInstallAmount'],
    ['IsEnterprise 2', async () => ({ Platform: 'iOS', AppVersion: '5.0', IsEnterprise: 2, DownloadUrl: 'https://dl.example.com/a.ipa' }), 'InvalidIsEnterprise'],
    ['IsEnterprise on Android', async () => ({ Platform: 'Android', AppVersion: '5.0', IsEnterprise: 1, DownloadUrl: 'https://dl.example.com/a.apk' }), 'InvalidIsEnterprise'],
    ['a symbol table for Android', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'https://dl.example.com/a.apk', IosSymbolfileUrl: await upload(u.a, 's.tgz', TGZ) }), 'InvalidIosSymbolfileUrl'],
    ['a CustomDomainName that is no domain', async () => ({ Platform: 'Android', AppVersion: '5.0', DownloadUrl: 'https://dl.example.com/a.apk', CustomDomainName: 'not a domain' }), 'InvalidCustomDomainName'],
    ['a version that exists (2.1 = 2.1.0)', async () => ({ Platform: 'Android', AppVersion: '2.1', FileUrl: await upload(u.a, 'dup.apk', await fakeApp('dup')) }), 'UpgradePackageExists'],
  ];

  it.each(refusals)('%s', async (_label, fields, code) => {
    const given = await fields();
    const before = await stateOf(u.srv);
    const r = await u.a('CreateMcubeUpgradePackage', { OnexFlag: true, ...given });
    expect(r.ResultCode, JSON.stringify(r)).toBe(code);
    expect(r.ResultContent).toMatchObject({ Success: false, ErrorCode: code });
    expect(r.ResultContent.ResultMsg.length).toBeGreaterThan(10);
    expect(r.ResultMessage).toBe(r.ResultContent.ResultMsg);
    expect(await stateOf(u.srv)).toBe(before);
    expect(foreign.hits()).toBe(0);
  });

  it('ValidDays 0 and InstallAmount 0, as scripts that send every field do, are "not set": an Android package, an App Store package', async () => {
    const apk = await u.a('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'Android', AppVersion: '6.0.1', DownloadUrl: 'https://dl.example.com/a.apk', ValidDays: 0, InstallAmount: 0 });
    expect(apk.ResultCode, JSON.stringify(apk)).toBe('OK');
    const store = await u.a('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'iOS', AppVersion: '6.0.1', AppstoreUrl: 'https://apps.apple.com/app/id1', ValidDays: 0, InstallAmount: 0 });
    expect(store.ResultCode, JSON.stringify(store)).toBe('OK');
    expect((await info(Number(store.ResultContent.Data))).GetPackageResult.PackageInfo.UpgradeBaseInfoDO.PackageType).toBe('appstore');
  });

  it('names the cause: an iOS file without IsEnterprise 1, a version segment past 9 digits', async () => {
    const ipa = await u.a('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'iOS', AppVersion: '5.0', FileUrl: await upload(u.a, 'forgot.ipa', await fakeApp()) });
    expect(ipa.ResultCode).toBe('InvalidIsEnterprise');
    expect(ipa.ResultMessage).toContain('must be 1 for an iOS package given as a file');
    const long = await u.a('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'Android', AppVersion: '99999999999.0', DownloadUrl: 'https://dl.example.com/a.apk' });
    expect(long.ResultCode).toBe('InvalidAppVersion');
    expect(long.ResultMessage).toContain('(each segment has at most 9 digits)');
  });

  it('two concurrent creates of one version: one wins, the other leaves no row and no stored copy', async () => {
    const [f1, f2] = [await upload(u.a, 'race-1.apk', await fakeApp('r1')), await upload(u.a, 'race-2.apk', await fakeApp('r2'))];
    const objects = async () => (await listKeys(u.srv.node.deps.blobs, 'pkg/')).filter((k) => k.includes('/upgrade/android/8.0.0-'));
    const rs = await Promise.all([f1, f2].map((FileUrl) => u.a('CreateMcubeUpgradePackage', { Platform: 'Android', AppVersion: '8.0.0', FileUrl })));
    expect(rs.map((r) => r.ResultCode).sort()).toEqual(['OK', 'UpgradePackageExists']);
    expect(await objects()).toHaveLength(1);
    const pending = await u.srv.node.deps.db.knex('blobs').where('key', 'like', '%/upgrade/android/8.0.0-%').select('state');
    expect(pending).toEqual([{ state: 'live' }]);
  });

  it('protocol refusals: another tenant\'s AppId (403), a missing AppId, paging out of range, a PackageId that is no integer', async () => {
    const call = openapiCore(u.srv.host, u.srv.creds);
    const before = await stateOf(u.srv);
    const refuse = async (action: string, body: Record<string, unknown>) => {
      try {
        await call(action, body);
      } catch (e: any) {
        return { status: e.statusCode, code: e.code };
      }
      throw new Error(`${action} was accepted`);
    };
    const own = { AppId: u.srv.creds.appId, WorkspaceId: 'default' };
    expect(await refuse('CreateMcubeUpgradePackage', { AppId: u.B.appId, WorkspaceId: 'default', Platform: 'Android', AppVersion: '7.0', DownloadUrl: 'https://dl.example.com/a.apk' })).toEqual({ status: 403, code: 'Forbidden' });
    expect(await refuse('CreateMcubeUpgradePackage', { ...own, TenantId: u.B.tenantId, Platform: 'Android', AppVersion: '7.0', DownloadUrl: 'https://dl.example.com/a.apk' })).toEqual({ status: 403, code: 'Forbidden' });
    expect(await refuse('ListMcubeUpgradePackages', { AppId: u.B.appId, WorkspaceId: 'default' })).toEqual({ status: 403, code: 'Forbidden' });
    expect(await refuse('GetMcubeUpgradePackageInfo', { AppId: u.B.appId, WorkspaceId: 'default', PackageId: 1 })).toEqual({ status: 403, code: 'Forbidden' });
    expect(await refuse('CreateMcubeUpgradePackage', { WorkspaceId: 'default', Platform: 'Android', AppVersion: '7.0', DownloadUrl: 'https://dl.example.com/a.apk' })).toEqual({ status: 400, code: 'MissingParameter' });
    expect(await refuse('ListMcubeUpgradePackages', { ...own, PageSize: 201 })).toEqual({ status: 400, code: 'InvalidParameter' });
    expect(await refuse('ListMcubeUpgradePackages', { ...own, PageNum: 0 })).toEqual({ status: 400, code: 'InvalidParameter' });
    expect(await refuse('GetMcubeUpgradePackageInfo', { ...own, PackageId: 'abc' })).toEqual({ status: 400, code: 'InvalidParameter' });
    expect(await refuse('CreateMcubeUpgradePackage', { ...own, Platform: 'Android', AppVersion: '7.0', DownloadUrl: `https://dl.example.com/${'a'.repeat(2040)}.apk` })).toEqual({ status: 400, code: 'InvalidParameter' });
    expect(await refuse('CreateMcubeUpgradePackage', { ...own, Platform: 'Android', AppVersion: '7.0', DownloadUrl: 'https://dl.example.com/a.apk', NeedCheck: 'yes' })).toEqual({ status: 400, code: 'InvalidParameter' });
    expect(await stateOf(u.srv)).toBe(before);
  });

  it('GetMcubeUpgradePackageInfo: another tenant\'s package and unknown ids are not found', async () => {
    const bId = await androidPackage(u.b, '8.8.8');
    for (const id of [bId, 999_999, 2 ** 40]) {
      const r = await info(id);
      expect(r.ResultCode).toBe('UpgradePackageNotFound');
      expect(r.GetPackageResult).toMatchObject({ Success: false, ErrorCode: 'UpgradePackageNotFound' });
      expect(JSON.stringify(r)).not.toContain('8.8.8');
    }
    expect((await info(0)).ResultCode).toBe('InvalidPackageId');
    expect((await u.a('GetMcubeUpgradePackageInfo', {})).ResultCode).toBe('InvalidPackageId');
  });
});

describe('DeleteMcubeUpgradeResource', () => {
  it('deletes the package, its tasks and its stored files; devices stop at once (the stamp moves)', async () => {
    const id = await androidPackage(u.a, '6.0.0');
    const p = (await info(id)).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    const task = await createUpgradeTask(u.a, id);
    const stamp = async () => Number((await u.srv.node.deps.db.knex('change_stamps').where({ app_id: u.srv.creds.appId }).first('stamp'))?.stamp ?? 0);
    const s0 = await stamp();
    const r = await u.a('DeleteMcubeUpgradeResource', { Id: String(id), Platform: 'Android' });
    expect(r.ResultCode).toBe('OK');
    expect(r.DeleteResult).toMatchObject({ Success: true, RequestId: r.RequestId });
    expect(r.DeleteResult.ResultMsg).toMatch(/1 unfinished release task/);
    expect(await stamp()).toBe(s0 + 1);
    expect((await info(id)).ResultCode).toBe('UpgradePackageNotFound');
    expect((await u.a('GetMcubeUpgradeTaskInfo', { TaskId: task })).ResultCode).toBe('UpgradeTaskNotFound');
    expect(await u.srv.node.deps.db.knex('upgrade_tasks').where({ package_id: id }).count({ n: '*' })).toEqual([{ n: expect.anything() }]);
    expect(Number((await u.srv.node.deps.db.knex('upgrade_tasks').where({ package_id: id }).count({ n: '*' }))[0]!.n)).toBe(0);
    expect(await u.srv.node.deps.blobs.head(p.OssPath)).toBeNull();
    expect(await u.srv.node.deps.db.knex('blobs').where({ key: p.OssPath }).first()).toBeUndefined();
    // a second delete finds nothing
    expect((await u.a('DeleteMcubeUpgradeResource', { Id: String(id) })).ResultCode).toBe('UpgradePackageNotFound');
  });

  it('refusals change nothing: wrong platform, bad or unknown id, another tenant\'s package', async () => {
    const id = await androidPackage(u.a, '6.1.0');
    const bId = await androidPackage(u.b, '6.1.0');
    const before = await stateOf(u.srv);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ Id: String(id), Platform: 'iOS' }, 'InvalidPlatform'],
      [{ Id: 'abc' }, 'InvalidId'],
      [{ Id: '' }, 'InvalidId'],
      [{}, 'InvalidId'],
      [{ Id: '0' }, 'InvalidId'],
      [{ Id: '999999' }, 'UpgradePackageNotFound'],
      [{ Id: String(bId) }, 'UpgradePackageNotFound'],
      [{ Id: String(bId), Platform: 'Android' }, 'UpgradePackageNotFound'],
    ];
    for (const [fields, code] of cases) {
      const r = await u.a('DeleteMcubeUpgradeResource', fields);
      expect(r.ResultCode, JSON.stringify(fields)).toBe(code);
      expect(r.DeleteResult).toMatchObject({ Success: false, ErrorCode: code });
    }
    expect(await stateOf(u.srv)).toBe(before);
    expect((await u.b('GetMcubeUpgradePackageInfo', { PackageId: bId })).ResultCode).toBe('OK');
  });
});
