import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, publishFixture, rsaKeyPair, uploadFile, type Call } from '../../helpers/nebula.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { fakeApp, PNG } from '../../upgrade/upgrade-fixtures.js';
import { checkInvariant, janitorAt, listAll, tmpEntries, workEntries } from './blob-invariant.js';

let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
  call = mcube(srv);
});
afterAll(async () => {
  await srv?.close();
});

async function allDownloads(): Promise<void> {
  const list = (await call('ListMcubeNebulaResources', { PageNum: 1, PageSize: 100 })).ListMcubeNebulaResourceResult.NebulaResourceInfo as any[];
  expect(list.length).toBeGreaterThan(0);
  for (const it of list) {
    expect((await fetch(it.DownloadUrl)).status).toBe(200);
    const json: any = await (await fetch(it.Memo)).json();
    expect((await fetch(json.data[0].package_url)).status).toBe(200);
  }
  const ups = (await call('ListMcubeUpgradePackages', { PageSize: 100 })).ListPackagesResult.Packages as any[];
  for (const p of ups ?? []) if (p.DownloadUrl) expect((await fetch(p.DownloadUrl)).status).toBe(200);
}

describe('stored files over their lifetime (local driver)', () => {
  let up1 = 0;
  it('creates, failed creates, deletes and janitor runs keep every live object and drop every unreferenced one', async () => {
    const { privatePem } = rsaKeyPair();
    expect((await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'k.pem', Buffer.from(privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
    await publishFixture(srv, { h5Id: '12345678', version: '1.0.0.0' });
    await publishFixture(srv, { h5Id: '12345678', version: '1.0.0.1' });
    await publishFixture(srv, { h5Id: '87654321', version: '1.0.0.0' });
    // failed creates: duplicate version, bad zip
    await expect(publishFixture(srv, { h5Id: '12345678', version: '1.0.0.1' })).rejects.toThrow();
    const junk = await uploadFile(call, 'bad.zip', Buffer.from('not a zip at all'));
    const bad = await call('CreateMcubeNebulaResource', { H5Id: '12345678', H5Name: 'x', H5Version: '1.0.0.9', ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '', FileUrl: junk, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true });
    expect(bad.ResultCode).not.toBe('OK');
    const r1 = await call('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'Android', AppVersion: '1.0', FileUrl: await uploadFile(call, 'a-1.apk', await fakeApp('one')), IconFileUrl: await uploadFile(call, 'i.png', PNG) });
    expect(r1.ResultCode).toBe('OK');
    up1 = Number(r1.ResultContent.Data);
    expect((await call('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'Android', AppVersion: '1.1', FileUrl: await uploadFile(call, 'a-2.apk', await fakeApp('two')) })).ResultCode).toBe('OK');
    // failed upgrade create: same version again
    expect((await call('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'Android', AppVersion: '1.1', FileUrl: await uploadFile(call, 'a-3.apk', await fakeApp('three')) })).ResultCode).not.toBe('OK');
    const wl = await call('CreateMcubeWhitelist', { WhiteListName: 'w', WhitelistType: 'normal' });
    const wlId = wl.CreateWhitelistResult.WhitelistId;
    expect((await call('UpdateMcubeWhitelist', { Id: wlId, OnexFlag: true, OssUrl: await uploadFile(call, 'ids.txt', Buffer.from('u1\nu2\n')) })).ResultCode).toBe('OK');

    await checkInvariant(srv);
    await janitorAt(srv, 0, 0);
    await checkInvariant(srv);
    await allDownloads();

    expect((await call('DeleteMcubeNebulaApp', { H5Id: '87654321' })).ResultCode).toBe('OK');
    expect((await call('DeleteMcubeUpgradeResource', { Id: String(up1) })).ResultCode).toBe('OK');
    await checkInvariant(srv);
    await janitorAt(srv, 0);
    await checkInvariant(srv);
    await allDownloads();
    // re-create the deleted version: same keys
    await publishFixture(srv, { h5Id: '87654321', version: '1.0.0.0' });
    await janitorAt(srv, 0, 0);
    await janitorAt(srv, 7200_000);
    await checkInvariant(srv);
    await allDownloads();
    expect(workEntries(srv)).toEqual([]);
    expect(tmpEntries(srv)).toEqual([]);
  });

  it('uploads expire after the retention, not before; the RSA key file is already gone', async () => {
    const before = await listAll(srv, 'uploads/');
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((k) => k.endsWith('k.pem'))).toEqual([]);
    const keep = srv.node.deps.config.janitor.uploadRetentionSec * 1000;
    await janitorAt(srv, keep - 60_000);
    expect(await listAll(srv, 'uploads/')).toEqual(before);
    const rep = await janitorAt(srv, keep + 1000);
    expect(rep.uploadsSwept).toBe(before.length);
    expect(await listAll(srv, 'uploads/')).toEqual([]);
    await checkInvariant(srv);
    await allDownloads();
  });
});
