import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTask, mcube, publishFixture, setTaskStatus, utcIn, type Call, type Published } from '../helpers/nebula.js';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * End to end through the real write side: packages, tasks and whitelists are
 * created with the Mcube actions (signed by the vendor client), devices ask
 * the device endpoint, and the package address really downloads the .amr.
 */
let srv: TestServer;
let call: Call;
let v1: Published;
let v2: Published;
const H5 = '55550001';

const ask = async (userId: string, installed = '') =>
  (await deviceCheck(srv.url, { platform: 'android', client: '2.0.0', userId, query: queryOf({ [H5]: installed }) }, { clientKey: srv.creds.clientKey })).body;
const got = async (userId: string, installed = '') => (await ask(userId, installed)).data.map((e: any) => e.version);

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '100000' });
  call = mcube(srv);
  v1 = await publishFixture(srv, { h5Id: H5, version: '1.0.0.0', extendInfo: '{"launchParams":{"asyncReqRate":"300"}}' });
  v2 = await publishFixture(srv, { h5Id: H5, version: '1.0.0.1' });
}, 120_000);
afterAll(async () => {
  await srv?.close();
});

describe('delivery after the real Nebula and whitelist actions', () => {
  let official1: number;
  let gray2: number;

  it('an official task of 1.0.0.0: every device gets it, and package_url downloads the signed .amr', async () => {
    expect(await got('nobody')).toEqual([]);
    official1 = await createTask(call, v1.resourceId, { PublishType: 3, Memo: 'official' });
    const answer = await ask('anyone');
    expect(answer.resultCode).toBe(100);
    expect(answer.config).toEqual({});
    const entry = answer.data[0];
    expect(entry).toMatchObject({ app_id: H5, version: '1.0.0.0', vhost: `https://${H5}.h5app.com`, main_url: '/www/index.html', online: 1 });
    const amr = Buffer.from(await (await fetch(entry.package_url)).arrayBuffer());
    expect(createHash('md5').update(amr).digest('hex')).toBe(entry.md5);
    expect(amr.length).toBe(entry.size);
  });

  it('a whitelist gray task of 1.0.0.1: listed users get the newer version, the rest keep 1.0.0.0', async () => {
    const created = await call('CreateMcubeWhitelist', { WhiteListName: 'testers', WhitelistType: 'normal' });
    const wl = created.CreateWhitelistResult.WhitelistId;
    const added = await call('UpdateMcubeWhitelist', { Id: wl, KeyIds: 'alice,bob' });
    expect(added.AddWhitelistResult.AddWhitelistInfo.SuccessNum).toBe(2);
    gray2 = await createTask(call, v2.resourceId, { PublishType: 2, PublishMode: 1, WhitelistIds: wl, Memo: 'gray' });
    expect(await got('alice')).toEqual(['1.0.0.1']);
    expect(await got('carol')).toEqual(['1.0.0.0']);
    expect(await got('alice', '1.0.0.1')).toEqual([]);
    // adding a user to the list reaches devices too
    await call('UpdateMcubeWhitelist', { Id: wl, KeyIds: 'carol' });
    expect(await got('carol')).toEqual(['1.0.0.1']);
  });

  it('pause and continue the gray task', async () => {
    expect((await setTaskStatus(call, gray2, 3)).ResultCode).toBe('OK');
    expect(await got('alice')).toEqual(['1.0.0.0']);
    expect((await setTaskStatus(call, gray2, 1)).ResultCode).toBe('OK');
    expect(await got('alice')).toEqual(['1.0.0.1']);
  });

  it('a time-window task admits GreyNum users and no more', async () => {
    await setTaskStatus(call, gray2, 2);
    const tw = await createTask(call, v2.resourceId, { PublishType: 2, PublishMode: 2, GreyNum: 2, GreyEndtimeData: utcIn(3600_000), Memo: 'window' });
    const users = ['w1', 'w2', 'w3', 'w4'];
    const first = [];
    for (const u of users) first.push((await got(u))[0]);
    expect(first).toEqual(['1.0.0.1', '1.0.0.1', '1.0.0.0', '1.0.0.0']);
    expect(await got('w1')).toEqual(['1.0.0.1']);
    expect(await got('w3')).toEqual(['1.0.0.0']);
    await setTaskStatus(call, tw, 2);
  });

  it('ending 1.0.0.1 keeps 1.0.0.0; a rollback task to 1.0.0.0 replaces 1.0.0.1 on devices holding it', async () => {
    expect(await got('holder', '1.0.0.1')).toEqual([]);
    const rb = await createTask(call, v1.resourceId, { PublishType: 3, TaskType: 1, Memo: 'rollback' });
    expect(rb).toBeGreaterThan(0);
    const answer = await ask('holder', '1.0.0.1');
    expect(answer.data.map((e: any) => e.version)).toEqual(['1.0.0.0']);
    expect(answer.discardData).toEqual({ [H5]: ['1.0.0.1'] });
    expect(answer.removeAppIdList).toEqual([]);
    await setTaskStatus(call, official1, 2);
    expect(await got('fresh')).toEqual(['1.0.0.0']);
  });
  it('DeleteMcubeNebulaApp tells devices holding the app to remove it (removeAppIdList), until the H5 id is published again', async () => {
    const H5B = '55550009';
    const pkg = await publishFixture(srv, { h5Id: H5B, version: '1.0.0.0' });
    await createTask(call, pkg.resourceId, { PublishType: 3 });
    const check = async (installed: Record<string, string>) =>
      (await deviceCheck(srv.url, { platform: 'android', client: '2.0.0', userId: 'holder', query: queryOf(installed), existed: queryOf(installed) }, { clientKey: srv.creds.clientKey })).body;
    expect((await check({ [H5B]: '1.0.0.0' })).removeAppIdList).toEqual([]);

    expect((await call('DeleteMcubeNebulaApp', { H5Id: H5B })).ResultCode).toBe('OK');
    const after = await check({ [H5B]: '1.0.0.0', '55550099': '3.0' });
    expect(after).toMatchObject({ resultCode: 100, data: [], removeAppIdList: [H5B], discardData: {} });
    // only a device that holds it; an app this server never managed (a preset package) is never removed
    expect((await check({ [H5B]: '' })).removeAppIdList).toEqual([]);
    expect((await check({ '55550099': '3.0' })).removeAppIdList).toEqual([]);

    const again = await publishFixture(srv, { h5Id: H5B, version: '2.0.0.0' });
    expect((await check({ [H5B]: '1.0.0.0' })).removeAppIdList).toEqual([]);
    await createTask(call, again.resourceId, { PublishType: 3 });
    const back = await check({ [H5B]: '1.0.0.0' });
    expect(back.data.map((e: { version: string }) => e.version)).toEqual(['2.0.0.0']);
    expect(back.removeAppIdList).toEqual([]);
  });
});
