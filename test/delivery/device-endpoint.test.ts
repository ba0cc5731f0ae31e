import knexFactory from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { bump, DEFAULT_SCOPE, insertResource, insertTask, insertWhitelist, setTaskStatusRow } from '../helpers/delivery-fixtures.js';
import { ALL, deviceCheck, queryOf } from '../helpers/device-client.js';
import { startTestServer, testDb, testPgUrl, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const knex = () => srv.node.deps.db.knex;
const ask = (fields: Record<string, unknown>, o: Parameters<typeof deviceCheck>[2] = {}) =>
  deviceCheck(srv.url, { platform: 'android', client: '2.0.0', ...fields }, { clientKey: srv.creds.clientKey, ...o });
const versions = (body: any, h5Id?: string) => (body.data as any[]).filter((e) => !h5Id || e.app_id === h5Id).map((e) => e.version);
/** What every write action does after its commit. */
const changed = async () => {
  await bump(srv.node.deps.db);
  srv.node.deps.onDeliveryChange(srv.creds.appId, srv.creds.workspaceId);
};

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '100000' });
});
afterAll(async () => {
  await srv?.close();
});

describe('the answer', () => {
  it('GET with a query string: the Nebula envelope with h5.json app objects', async () => {
    const r = await insertResource(knex(), { h5_id: '11110001', h5_version: '1.0.0.1', extend_info: '{"launchParams":{"asyncReqRate":"600"}}', auto_install: 0, install_type: 1 });
    await insertTask(knex(), r, { publish_type: 3, publish_mode: 4 });
    await changed();
    const res = await ask({ userId: 'u-get', query: queryOf({ '11110001': '' }) }, { method: 'GET' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body).toMatchObject({ resultCode: 100, removeAppIdList: [], discardData: {}, config: {} });
    expect(res.body.data).toHaveLength(1);
    const e = res.body.data[0];
    expect(e).toMatchObject({
      app_id: '11110001',
      version: '1.0.0.1',
      name: 'Demo',
      md5: r.md5,
      size: r.file_size,
      main_url: '/www/index.html',
      vhost: 'https://11110001.h5app.com',
      auto_install: 0,
      download_type: 0,
      installType: 1,
      online: 1,
      patch: '',
      fallback_base_url: '',
      sub_url: '',
      extend_info: { launchParams: { asyncReqRate: '600' } },
    });
    // the download address comes from the blob store: presigned on the local driver
    expect(srv.node.deps.blobs.keyFromUrl(e.package_url)).toBe(r.amr_key);
    expect(e.package_url).toMatch(/X-Mcube-Signature=/);
  });

  it('POST form (as the Nebula HTTP provider posts), client key as a field', async () => {
    const res = await ask({ userId: 'u-form', query: queryOf({ '11110001': '' }), appId: srv.creds.appId, workspaceId: srv.creds.workspaceId }, { keyIn: 'field' });
    expect(res.status).toBe(200);
    expect(versions(res.body)).toEqual(['1.0.0.1']);
  });

  it('POST JSON with query as an object', async () => {
    const res = await ask({ userId: 'u-json', query: { '11110001': { app_id: '11110001', version: '' } } }, { json: true });
    expect(res.status).toBe(200);
    expect(versions(res.body)).toEqual(['1.0.0.1']);
  });

  it('nebula-*-all asks for every app; a plain query only for the listed ones', async () => {
    const r = await insertResource(knex(), { h5_id: '11110002', h5_version: '3.0' });
    await insertTask(knex(), r);
    await changed();
    const all = await ask({ userId: 'u-all', query: ALL });
    expect(all.body.data.map((e: any) => e.app_id)).toEqual(['11110001', '11110002']);
    const one = await ask({ userId: 'u-all', query: queryOf({ '11110002': '' }) });
    expect(one.body.data.map((e: any) => e.app_id)).toEqual(['11110002']);
    const none = await ask({ userId: 'u-all', query: queryOf({ '99999999': '' }) });
    expect(none.body.data).toEqual([]);
  });

  it('the installed version (existed) is not offered again', async () => {
    const res = await ask({ userId: 'u-ex', query: ALL, existed: queryOf({ '11110001': '1.0.0.1', '11110002': '2.0' }) });
    expect(res.body.data.map((e: any) => `${e.app_id}@${e.version}`)).toEqual(['11110002@3.0']);
  });

  it('rollback: older version delivered, the installed newer one listed in discardData', async () => {
    const v1 = await insertResource(knex(), { h5_id: '11110003', h5_version: '1.0.0' });
    const v2 = await insertResource(knex(), { h5_id: '11110003', h5_version: '1.1.0' });
    const t2 = await insertTask(knex(), v2);
    await changed();
    expect(versions((await ask({ userId: 'u-rb', query: queryOf({ '11110003': '1.0.0' }) })).body)).toEqual(['1.1.0']);
    await setTaskStatusRow(knex(), t2.id, 2);
    await insertTask(knex(), v1, { task_type: 1 });
    await changed();
    const res = await ask({ userId: 'u-rb', query: queryOf({ '11110003': '1.1.0' }) });
    expect(versions(res.body)).toEqual(['1.0.0']);
    expect(res.body.discardData).toEqual({ '11110003': ['1.1.0'] });
    expect(res.body.removeAppIdList).toEqual([]);
  });

  it('nothing to offer: an empty data list, never a removal', async () => {
    const r = await insertResource(knex(), { h5_id: '11110004', h5_version: '1.0' });
    const t = await insertTask(knex(), r);
    await changed();
    await setTaskStatusRow(knex(), t.id, 3);
    await changed();
    const res = await ask({ userId: 'u-none', query: queryOf({ '11110004': '1.0' }), existed: queryOf({ '11110004': '1.0' }) });
    expect(res.body).toMatchObject({ resultCode: 100, data: [], removeAppIdList: [], discardData: {} });
  });
});

describe('asyncReqRate', () => {
  it('paces only the package that sets it: in its own launchParams, never as the config of every app', async () => {
    // the guide's form puts the rate at the top level; Nebula reads a package's own rate in launchParams
    const guide = await insertResource(knex(), { h5_id: '11110021', h5_version: '1.0', extend_info: '{"asyncReqRate":"900"}' });
    await insertTask(knex(), guide, { publish_type: 3, publish_mode: 4 });
    const own = await insertResource(knex(), { h5_id: '11110022', h5_version: '1.0', extend_info: '{"launchParams":{"asyncReqRate":"60"}}' });
    await insertTask(knex(), own, { publish_type: 3, publish_mode: 4 });
    const plain = await insertResource(knex(), { h5_id: '11110023', h5_version: '1.0', extend_info: '' });
    await insertTask(knex(), plain, { publish_type: 3, publish_mode: 4 });
    await changed();
    const res = await ask({ userId: 'rate-any', query: queryOf({ '11110021': '', '11110022': '', '11110023': '' }) });
    expect(versions(res.body)).toEqual(['1.0', '1.0', '1.0']);
    // a rate in config would pace the device's checks of every app, those without a rate included
    expect(res.body.config).toEqual({});
    const infoOf = (id: string) => res.body.data.find((e: { app_id: string }) => e.app_id === id).extend_info;
    expect(infoOf('11110021')).toEqual({ asyncReqRate: '900', launchParams: { asyncReqRate: '900' } });
    expect(infoOf('11110022')).toEqual({ launchParams: { asyncReqRate: '60' } });
    expect(infoOf('11110023')).toEqual({ launchParams: {} });
  });
});


describe('gray tasks from the database', () => {
  it('whitelists (normal and regex, union) and advanced rules', async () => {
    const normal = await insertWhitelist(knex(), 'normal', ['alice', 'bob']);
    const regex = await insertWhitelist(knex(), 'regex', ['qa-\\d{3}']);
    const r = await insertResource(knex(), { h5_id: '22220001', h5_version: '1.0' });
    await insertTask(knex(), r, {
      publish_type: 2,
      publish_mode: 1,
      whitelist_ids: `${normal},${regex}`,
      grey_config_info: JSON.stringify([{ ruleElement: 'city', operation: 1, value: 'Shanghai, Beijing' }]),
    });
    await changed();
    const q = queryOf({ '22220001': '' });
    const got = async (userId: string, city = 'Beijing') => versions((await ask({ userId, city, query: q })).body);
    expect(await got('alice')).toEqual(['1.0']);
    expect(await got('qa-123')).toEqual(['1.0']);
    expect(await got('qa-1234')).toEqual([]);
    expect(await got('Alice')).toEqual([]);
    expect(await got('bob', 'Hangzhou')).toEqual([]);
    // whitelists list user ids: a device that sent only a deviceId is on none, even when that id is listed or matches
    expect(versions((await ask({ deviceId: 'bob', city: 'Shanghai', query: q })).body)).toEqual([]);
    expect(versions((await ask({ deviceId: 'qa-123', city: 'Shanghai', query: q })).body)).toEqual([]);
    expect(versions((await ask({ userId: 'bob', deviceId: 'nobody', city: 'Shanghai', query: q })).body)).toEqual(['1.0']);
  });

  it('a big normal whitelist (packed id table) matches exactly', async () => {
    const ids = Array.from({ length: 6000 }, (_, i) => `big-${i}`).concat(['用户-甲']);
    const big = await insertWhitelist(knex(), 'normal', ids);
    const r = await insertResource(knex(), { h5_id: '22220005', h5_version: '1.0' });
    await insertTask(knex(), r, { publish_type: 2, publish_mode: 1, whitelist_ids: String(big) });
    await changed();
    const q = queryOf({ '22220005': '' });
    const got = async (userId: string) => versions((await ask({ userId, query: q })).body);
    expect(await got('big-0')).toEqual(['1.0']);
    expect(await got('big-5999')).toEqual(['1.0']);
    expect(await got('用户-甲')).toEqual(['1.0']);
    expect(await got('big-6000')).toEqual([]);
    expect(await got('Big-1')).toEqual([]);
    expect(await got('big-10000')).toEqual([]);
  });

  it("a task never reaches another workspace's whitelist", async () => {
    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await store.ensureWorkspace(srv.creds.appId, 'other');
    const foreign = await insertWhitelist(knex(), 'normal', ['mallory'], { appId: srv.creds.appId, workspaceId: 'other' });
    const r = await insertResource(knex(), { h5_id: '22220002', h5_version: '1.0' });
    await insertTask(knex(), r, { publish_type: 2, publish_mode: 1, whitelist_ids: String(foreign) });
    await changed();
    expect(versions((await ask({ userId: 'mallory', query: queryOf({ '22220002': '' }) })).body)).toEqual([]);
  });

  it('time window: exactly GreyNum of many concurrent new users; admitted users keep it, others never get it', async () => {
    const r = await insertResource(knex(), { h5_id: '22220003', h5_version: '1.0' });
    const t = await insertTask(knex(), r, { publish_type: 2, publish_mode: 2, grey_num: 5, grey_endtime: Date.now() + 3600_000 });
    await changed();
    const q = queryOf({ '22220003': '' });
    const users = Array.from({ length: 30 }, (_, i) => `tw-${i}`);
    const first = await Promise.all(users.map(async (u) => ((await ask({ userId: u, query: q })).body.data.length ? u : null)));
    const admitted = first.filter(Boolean) as string[];
    expect(admitted).toHaveLength(5);
    const row = await knex()('nebula_tasks').where({ id: t.id }).first('grey_admitted');
    expect(Number(row.grey_admitted)).toBe(5);
    const rows = await knex()('grey_admissions').where({ task_id: t.id }).select('user_key');
    expect(rows.map((x: any) => x.user_key).sort()).toEqual([...admitted].sort());
    // every re-check: the same five, no second slot, also after a rebuild of the snapshot
    await changed();
    const again = await Promise.all(users.map(async (u) => ((await ask({ userId: u, query: q })).body.data.length ? u : null)));
    expect(again.filter(Boolean).sort()).toEqual([...admitted].sort());
    expect(Number((await knex()('nebula_tasks').where({ id: t.id }).first('grey_admitted')).grey_admitted)).toBe(5);
  });

  it('time window: a device rejected for another reason uses no slot', async () => {
    const r = await insertResource(knex(), { h5_id: '22220004', h5_version: '1.0', platform: 'Android', client_version_min: ';1.0.0' });
    const t = await insertTask(knex(), r, { publish_type: 2, publish_mode: 2, grey_num: 1, grey_endtime: Date.now() + 3600_000 });
    await changed();
    const q = queryOf({ '22220004': '' });
    expect((await ask({ platform: 'ios', userId: 'iphone', query: q })).body.data).toEqual([]);
    expect((await ask({ userId: 'old-client', client: '0.9', query: q })).body.data).toEqual([]);
    expect(await knex()('grey_admissions').where({ task_id: t.id }).count({ n: '*' }).then((x: any) => Number(x[0].n))).toBe(0);
    expect(versions((await ask({ userId: 'droid', query: q })).body)).toEqual(['1.0']);
  });
});

describe('changes reach devices', () => {
  it('local onChange: pause, continue and end are visible on the next check', async () => {
    const r = await insertResource(knex(), { h5_id: '33330001', h5_version: '1.0' });
    const t = await insertTask(knex(), r);
    await changed();
    const q = queryOf({ '33330001': '' });
    const now = async () => versions((await ask({ userId: 'u-chg', query: q })).body);
    expect(await now()).toEqual(['1.0']);
    await setTaskStatusRow(knex(), t.id, 3);
    await changed();
    expect(await now()).toEqual([]);
    await setTaskStatusRow(knex(), t.id, 1);
    await changed();
    expect(await now()).toEqual(['1.0']);
    await setTaskStatusRow(knex(), t.id, 2);
    await changed();
    expect(await now()).toEqual([]);
  });

  it('a stamp moved by another node (no local onChange) is picked up by the poll', async () => {
    const r = await insertResource(knex(), { h5_id: '33330002', h5_version: '1.0' });
    const q = queryOf({ '33330002': '' });
    expect((await ask({ userId: 'u-poll', query: q })).body.data).toEqual([]);
    await insertTask(knex(), r);
    // the stamp alone, without the NOTIFY bumpStamp sends on PostgreSQL (as when that message is lost): only the poll sees it
    await knex()('change_stamps')
      .insert({ app_id: DEFAULT_SCOPE.appId, workspace_id: DEFAULT_SCOPE.workspaceId, stamp: 1 })
      .onConflict(['app_id', 'workspace_id'])
      .merge({ stamp: knex().raw('?? + 1', ['change_stamps.stamp']) });
    let seen: string[] = [];
    for (let i = 0; i < 100 && seen.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      seen = versions((await ask({ userId: 'u-poll', query: q })).body);
    }
    expect(seen).toEqual(['1.0']);
  });
});

describe('refusals', () => {
  it('401 without a client key', async () => {
    const res = await ask({ userId: 'x' }, { keyIn: 'none' });
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ resultCode: 401, state: 'fail' });
    expect(res.body.resultMsg).toMatch(/client key/i);
  });

  it('401 for an unknown key', async () => {
    const res = await ask({ userId: 'x' }, { clientKey: 'mck_nope_nope_nope' });
    expect(res.status).toBe(401);
  });

  it('401 when the key does not belong to the given appId or workspaceId', async () => {
    expect((await ask({ userId: 'x', appId: 'ALIPUB0000002' })).status).toBe(401);
    expect((await ask({ userId: 'x', workspaceId: 'other' })).status).toBe(401);
    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    const otherKey = await store.ensureWorkspace(srv.creds.appId, 'other');
    expect((await ask({ userId: 'x', workspaceId: srv.creds.workspaceId }, { clientKey: otherKey })).status).toBe(401);
    // the other workspace's own key works, and sees only its own tasks
    const own = await ask({ userId: 'x', workspaceId: 'other', query: ALL }, { clientKey: otherKey });
    expect(own.status).toBe(200);
    expect(own.body.data).toEqual([]);
  });

  it(`two client-key rotations at once chain: the second keeps the first one's new key as its previous (${testDb === 'postgres' ? 'forced overlap' : 'unforced on SQLite'})`, async () => {
    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    const original = await store.ensureWorkspace(srv.creds.appId, 'rotating');
    // PostgreSQL: an outside lock on the row holds both rotations until both have started, so both read the row
    // before either writes unless the read itself waits for the lock. SQLite runs writing transactions one at a time.
    const outside = testDb === 'postgres' ? knexFactory({ client: 'pg', connection: testPgUrl, searchPath: [srv.env.schema!], pool: { min: 1, max: 1 } }) : null;
    const hold = outside ? await outside.transaction() : null;
    await hold?.('workspaces').where({ app_id: srv.creds.appId, workspace_id: 'rotating' }).forUpdate().first();
    const rotating = Promise.all([store.rotateClientKey(srv.creds.appId, 'rotating', 3600), store.rotateClientKey(srv.creds.appId, 'rotating', 3600)]);
    if (hold) {
      await new Promise((r) => setTimeout(r, 300));
      await hold.commit();
    }
    const [a, b] = await rotating;
    await outside?.destroy();
    const [first, second] = a!.previous === original ? [a!, b!] : [b!, a!];
    expect(first.previous).toBe(original);
    expect(second.previous).toBe(first.clientKey);
    const row = await srv.node.deps.db.knex('workspaces').where({ app_id: srv.creds.appId, workspace_id: 'rotating' }).first('client_key', 'previous_client_key');
    expect(row).toEqual({ client_key: second.clientKey, previous_client_key: first.clientKey });
  });

  it('400 for a bad platform or a query that is not JSON', async () => {
    expect((await ask({ userId: 'x', platform: 'symbian' })).status).toBe(400);
    const bad = await ask({ userId: 'x', query: '{not json' });
    expect(bad.status).toBe(400);
    expect(bad.body.resultMsg).toMatch(/query/);
    const nul = await ask({ userId: 'x\u0000y' });
    expect(nul.status).toBe(400);
    expect(nul.body.resultMsg).toMatch(/control characters/);
    // a lone surrogate (JSON "\ud800") would be stored as U+FFFD, another key than the one asked with: it took
    // time-window slots without counting them
    const lone = await ask({ userId: 'a\ud800' }, { json: true });
    expect(lone.status).toBe(400);
    expect(lone.body.resultMsg).toMatch(/valid Unicode/);
    expect((await ask({ userId: 'emoji-\ud83d\ude00' }, { json: true })).status).toBe(200);
  });

  it('400 for a missing or malformed client version; a versionName suffix is dropped', async () => {
    // before, these were answered as version 0 (or "1..2" as 1.0.2): an empty answer the device could not tell from "nothing new"
    for (const client of [undefined, '', 'abc', '-1', '1..2', '1'.repeat(5000), { a: 1 }]) {
      const r = await deviceCheck(srv.url, { platform: 'android', userId: 'x', ...(client === undefined ? {} : { client }) } as never, { clientKey: srv.creds.clientKey, json: true });
      expect(r.status, JSON.stringify(client)?.slice(0, 20)).toBe(400);
      expect(r.body.resultMsg).toMatch(/^client must be the app's version, e\.g\. 4\.0\.0/);
    }
    for (const client of ['2.0.0-beta', '2.0.0+build7', '2']) expect((await ask({ userId: 'x', client })).status, client).toBe(200);
  });

  it('a "__proto__" member of a JSON body supplies no fields', async () => {
    const res = await fetch(`${srv.url}/device/nebula/update`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-mcube-client-key': srv.creds.clientKey },
      body: '{"__proto__":{"platform":"android","userId":"alice"},"client":"1.0.0"}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { resultMsg: string }).resultMsg).toMatch(/platform/);
  });

  it('404 for another device path, 405 for another method', async () => {
    expect((await fetch(`${srv.url}/device/other`)).status).toBe(404);
    // a path that only starts like the upgrade check is not the upgrade check
    expect((await fetch(`${srv.url}/device/upgrade/checks`)).status).toBe(404);
    expect((await fetch(`${srv.url}/device/upgrade/check/x`)).status).toBe(404);
    const put = await fetch(`${srv.url}/device/nebula/update`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
  });
});

describe('rate limit (per device, per node)', () => {
  let limited: TestServer;
  beforeAll(async () => {
    // a fixed clock keeps all requests inside one one-minute window
    const t = Date.UTC(2030, 0, 1, 0, 0, 10);
    limited = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '3' }, { now: () => t });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('answers resultCode 1002 with Retry-After once a device is over its limit; other devices go on', async () => {
    const go = (userId: string) => deviceCheck(limited.url, { platform: 'android', client: '1.0', userId, query: ALL }, { clientKey: limited.creds.clientKey });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await go('busy')).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const over = await go('busy');
    expect(over.body).toMatchObject({ resultCode: 1002, state: 'fail' });
    expect(over.headers.get('retry-after')).toBe('50');
    expect((await go('calm')).status).toBe(200);
  });

  it('one limit for both device endpoints: upgrade checks count against the same device', async () => {
    const nebula = (userId: string) => deviceCheck(limited.url, { platform: 'android', client: '1.0', userId, query: ALL }, { clientKey: limited.creds.clientKey });
    const upgrade = (userId: string) =>
      fetch(`${limited.url}/device/upgrade/check`, {
        method: 'POST',
        headers: { 'x-mcube-client-key': limited.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ platform: 'android', client: '1.0', userId }).toString(),
      });
    expect((await nebula('both')).status).toBe(200);
    expect((await upgrade('both')).status).toBe(200);
    expect((await nebula('both')).status).toBe(200);
    expect((await upgrade('both')).status).toBe(429);
  });

  it('devices without ids behind a trusted balancer count by the address it forwarded, not by its own', async () => {
    const t = Date.UTC(2030, 0, 1, 0, 0, 10);
    const behind = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '2', MCUBE_TRUST_PROXY_HOPS: '1' }, { now: () => t });
    try {
      const anon = (forwarded: string) =>
        fetch(`${behind.url}/device/nebula/update`, {
          method: 'POST',
          headers: { 'x-mcube-client-key': behind.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwarded },
          body: 'platform=android&client=1.0',
        }).then((r) => r.status);
      expect([await anon('1.1.1.1'), await anon('1.1.1.1'), await anon('1.1.1.1')]).toEqual([200, 200, 429]);
      // another phone behind the same balancer is not throttled with it, whatever the client wrote further left
      expect(await anon('1.1.1.1, 2.2.2.2')).toBe(200);
    } finally {
      await behind.close();
    }
  });
});
