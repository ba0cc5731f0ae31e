import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { deviceCheck } from '../helpers/device-client.js';
import { countRows, mcube, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openapiCore, popCore } from '../helpers/vendor-clients.js';

/**
 * Switch configuration (guide §6): keys managed through mcube's actions by
 * the vendor's clients, and pulled by devices from /device/config/pull, each
 * key answered with the first of its values the device matches.
 */
let srv: TestServer;
let call: Call;
let betaList: string;

const pull = async (fields: Record<string, unknown>, clientKey = srv.creds.clientKey) =>
  deviceCheck(srv.url, { platform: 'android', client: '4.0.0', ...fields }, { clientKey, path: '/device/config/pull' });
const data = async (fields: Record<string, unknown>) => {
  const r = await pull(fields);
  expect(r.status).toBe(200);
  expect(r.body.resultCode).toBe(100);
  return r.body.data as Record<string, string>;
};
const create = (ConfigKey: string, values: unknown[], extra: Record<string, unknown> = {}) =>
  call('CreateMcubeSwitchConfig', { ConfigKey, Values: JSON.stringify(values), ...extra });
const rows = async () => [await countRows(srv, 'switch_configs'), await countRows(srv, 'switch_config_values')];

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '1000000' });
  call = mcube(srv);
  const wl = await call('CreateMcubeWhitelist', { WhiteListName: 'beta', WhitelistType: 'normal' });
  betaList = wl.CreateWhitelistResult.WhitelistId;
  expect((await call('UpdateMcubeWhitelist', { Id: betaList, KeyIds: 'alice,carol' })).ResultCode).toBe('OK');
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

describe('switch keys reach the devices they are meant for', () => {
  it('a whitelist value, then a value for everyone: users on the list get the first, the others the second', async () => {
    const r = await create('pay.newCheckout', [
      { Value: 'beta', Type: 'WHITELIST', WhitelistIds: betaList },
      { Value: 'stable', Type: 'ALL' },
    ], { Note: 'new checkout flow' });
    expect(r.ResultCode).toBe('OK');
    expect(r.CreateSwitchConfigResult).toMatchObject({ Success: true, ConfigKey: 'pay.newCheckout', Id: expect.any(Number) });
    expect(await data({ userId: 'alice' })).toEqual({ 'pay.newCheckout': 'beta' });
    expect(await data({ userId: 'bob' })).toEqual({ 'pay.newCheckout': 'stable' });
    // whitelists list user ids: a device id alone is on none
    expect(await data({ deviceId: 'alice' })).toEqual({ 'pay.newCheckout': 'stable' });
  });

  it('platform: a value for iOS only is not sent to Android, where no other value matches', async () => {
    expect((await create('ios.only', [{ Value: 'yes', Platform: 'IOS' }])).ResultCode).toBe('OK');
    expect(await data({ platform: 'ios', userId: 'bob' })).toMatchObject({ 'ios.only': 'yes' });
    expect(await data({ platform: 'android', userId: 'bob' })).not.toHaveProperty('ios.only');
  });

  it('advanced rules: city and client version, ANDed as for release tasks', async () => {
    const rules = [
      { ruleElement: 'city', operation: 1, value: 'Shanghai,Hangzhou' },
      { ruleElement: 'clientVersion', operation: 3, value: '4.0.0-5.0.0' },
    ];
    expect((await create('city.banner', [{ Value: 'east', Rules: rules }, { Value: 'elsewhere' }])).ResultCode).toBe('OK');
    const banner = async (f: Record<string, unknown>) => (await data({ keys: 'city.banner', ...f }))['city.banner'];
    expect(await banner({ city: 'Shanghai', client: '4.2.0' })).toBe('east');
    expect(await banner({ city: 'Beijing', client: '4.2.0' })).toBe('elsewhere');
    expect(await banner({ city: 'Hangzhou', client: '5.1.0' })).toBe('elsewhere');
  });

  it('percentage: about that share of users, stable, and raising it only adds users', async () => {
    expect((await create('rollout', [{ Value: 'new', Type: 'PERCENT', Percent: 30 }, { Value: 'old' }])).ResultCode).toBe('OK');
    const users = Array.from({ length: 600 }, (_, i) => `user-${i}`);
    const value = async (u: string) => (await data({ userId: u, keys: 'rollout' })).rollout;
    const at30 = new Set<string>();
    for (const u of users) if ((await value(u)) === 'new') at30.add(u);
    // 30 % of 600 is 180; four standard deviations (11.2 each) either side
    expect(at30.size).toBeGreaterThan(135);
    expect(at30.size).toBeLessThan(225);
    for (const u of [...at30].slice(0, 20)) expect(await value(u)).toBe('new');
    const r = await call('UpdateMcubeSwitchConfig', { ConfigKey: 'rollout', Values: JSON.stringify([{ Value: 'new', Type: 'PERCENT', Percent: 60 }, { Value: 'old' }]) });
    expect(r.ResultCode).toBe('OK');
    const at60 = new Set<string>();
    for (const u of users) if ((await value(u)) === 'new') at60.add(u);
    expect(at60.size).toBeGreaterThan(at30.size + 100);
    for (const u of at30) expect(at60.has(u)).toBe(true);
    // a device with neither user id nor device id is bucketed nowhere: it gets the value for everyone
    expect((await data({ keys: 'rollout' })).rollout).toBe('old');
  });

  it('keys narrows the answer; unknown keys are left out', async () => {
    expect(await data({ userId: 'alice', keys: 'pay.newCheckout, nope' })).toEqual({ 'pay.newCheckout': 'beta' });
  });

  it('deactivating a key stops it at once on this node; activating brings it back', async () => {
    const off = await call('ChangeMcubeSwitchConfigStatus', { ConfigKey: 'pay.newCheckout', Enabled: false });
    expect(off.ChangeSwitchConfigStatusResult).toMatchObject({ Success: true, Enabled: false });
    expect(await data({ userId: 'alice' })).not.toHaveProperty('pay.newCheckout');
    await call('ChangeMcubeSwitchConfigStatus', { ConfigKey: 'pay.newCheckout', Enabled: true });
    expect(await data({ userId: 'alice' })).toHaveProperty('pay.newCheckout', 'beta');
  });

  it('a whitelist change reaches the switch answers too', async () => {
    await call('UpdateMcubeWhitelist', { Id: betaList, KeyIds: 'bob' });
    expect((await data({ userId: 'bob', keys: 'pay.newCheckout' }))['pay.newCheckout']).toBe('beta');
  });
});

describe('management through the vendor clients', () => {
  it('pop-core (GET, HMAC-SHA1) lists keys with their values; Keyword matches key or note', async () => {
    const pop = popCore(srv.url, srv.creds, 'GET');
    const base = { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId };
    const all = ((await pop('ListMcubeSwitchConfigs', base)) as any).ListSwitchConfigResult;
    expect(all).toMatchObject({ Success: true, TotalCount: 4, CurrentPage: 1, HasMore: false });
    expect(all.SwitchConfigs.map((c: any) => c.ConfigKey)).toEqual(['rollout', 'city.banner', 'ios.only', 'pay.newCheckout']);
    const found = ((await pop('ListMcubeSwitchConfigs', { ...base, Keyword: 'CHECKOUT FLOW' })) as any).ListSwitchConfigResult.SwitchConfigs;
    expect(found).toEqual([
      {
        Id: expect.any(Number),
        ConfigKey: 'pay.newCheckout',
        Note: 'new checkout flow',
        Enabled: true,
        Creator: srv.creds.accessKeyId,
        Modifier: srv.creds.accessKeyId,
        GmtCreate: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
        GmtModified: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
        Values: [
          { Value: 'beta', Platform: 'ALL', Type: 'WHITELIST', WhitelistIds: betaList, Percent: 0, Rules: '' },
          { Value: 'stable', Platform: 'ALL', Type: 'ALL', WhitelistIds: '', Percent: 0, Rules: '' },
        ],
      },
    ]);
    const paged = ((await pop('ListMcubeSwitchConfigs', { ...base, PageSize: 3, PageNum: 2 })) as any).ListSwitchConfigResult;
    expect(paged.SwitchConfigs.map((c: any) => c.ConfigKey)).toEqual(['pay.newCheckout']);
  });

  it('UpdateMcubeSwitchConfig with only a note keeps the values; the key must exist', async () => {
    const v2 = openapiCore(srv.host, srv.creds, 'v2');
    const base = { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId };
    const r = (await v2('UpdateMcubeSwitchConfig', { ...base, ConfigKey: 'ios.only', Note: 'iOS 17 work-around' })).body;
    expect(r.UpdateSwitchConfigResult).toMatchObject({ Success: true, ConfigKey: 'ios.only' });
    expect(await data({ platform: 'ios', keys: 'ios.only' })).toEqual({ 'ios.only': 'yes' });
    const missing = (await v2('UpdateMcubeSwitchConfig', { ...base, ConfigKey: 'no.such', Note: 'x' })).body;
    expect(missing).toMatchObject({ ResultCode: 'SwitchConfigNotFound', UpdateSwitchConfigResult: { Success: false } });
    const nothing = (await v2('UpdateMcubeSwitchConfig', { ...base, ConfigKey: 'ios.only' })).body;
    expect(nothing.ResultCode).toBe('InvalidValues');
  });

  it('export, then import: existing keys are skipped, a deleted key comes back as it was', async () => {
    const exported = await call('ExportMcubeSwitchConfigs', {});
    expect(exported.ExportSwitchConfigResult.Count).toBe(4);
    const file = JSON.parse(exported.ExportSwitchConfigResult.Content);
    expect(file.map((c: any) => c.ConfigKey)).toEqual(['pay.newCheckout', 'ios.only', 'city.banner', 'rollout']);

    const del = await call('DeleteMcubeSwitchConfig', { ConfigKey: 'city.banner' });
    expect(del.DeleteSwitchConfigResult.Success).toBe(true);
    expect(await data({ city: 'Shanghai' })).not.toHaveProperty('city.banner');

    const imported = await call('ImportMcubeSwitchConfigs', { Content: exported.ExportSwitchConfigResult.Content });
    expect(imported.ImportSwitchConfigResult).toMatchObject({ Success: true, ImportedKeys: ['city.banner'], SkippedKeys: ['pay.newCheckout', 'ios.only', 'rollout'] });
    expect((await data({ city: 'Shanghai', keys: 'city.banner' }))['city.banner']).toBe('east');
  });
});

describe('import and list details', () => {
  it('an import checks the whitelists of the keys it adds only, and names the item at fault', async () => {
    const content = (keyFor: string) =>
      JSON.stringify([
        { ConfigKey: 'rollout', Values: [{ Value: 'a', Type: 'WHITELIST', WhitelistIds: '999999' }] },
        { ConfigKey: keyFor, Values: [{ Value: 'fresh' }] },
      ]);
    const r = await call('ImportMcubeSwitchConfigs', { Content: content('import.fresh') });
    expect(r.ImportSwitchConfigResult).toMatchObject({ Success: true, ImportedKeys: ['import.fresh'], SkippedKeys: ['rollout'] });
    const bad = await call('ImportMcubeSwitchConfigs', { Content: JSON.stringify([{ ConfigKey: 'import.other', Values: [{ Value: 'a' }] }, { ConfigKey: 'import.bad', Values: [{ Value: 'a', Type: 'WHITELIST', WhitelistIds: '999999' }] }]) });
    expect(bad.ResultCode).toBe('InvalidContent');
    expect(bad.ImportSwitchConfigResult.ResultMsg).toContain('item 2 (import.bad): no whitelist 999999');
    // what an empty workspace exports imports as nothing
    expect((await call('ImportMcubeSwitchConfigs', { Content: '[]' })).ImportSwitchConfigResult).toMatchObject({ Success: true, ImportedKeys: [], SkippedKeys: [] });
    await call('DeleteMcubeSwitchConfig', { ConfigKey: 'import.fresh' });
  });

  it('keys that exist are skipped unread: an older version\'s export imports even where this version refuses a value', async () => {
    // a value an earlier version stored and this one refuses on writes (netType LTE), as an upgraded database holds it
    const rules = JSON.stringify([{ ruleElement: 'netType', operation: 1, value: '4G' }]);
    expect((await create('legacy.net', [{ Value: 'fast', Rules: rules }])).ResultCode).toBe('OK');
    await srv.node.deps.db.knex('switch_config_values').where({ rules: rules }).update({ rules: rules.replace('4G', 'LTE') });
    const exported = (await call('ExportMcubeSwitchConfigs', {})).ExportSwitchConfigResult.Content;
    expect(exported).toContain('LTE');
    const again = await call('ImportMcubeSwitchConfigs', { Content: exported });
    expect(again.ImportSwitchConfigResult.Success).toBe(true);
    expect(again.ImportSwitchConfigResult.ImportedKeys).toEqual([]);
    expect(again.ImportSwitchConfigResult.SkippedKeys).toContain('legacy.net');
    // nor are an existing key's other fields read; a key it adds is checked in full, and named with its item
    const before = await rows();
    const mixed = await call('ImportMcubeSwitchConfigs', {
      Content: JSON.stringify([
        { ConfigKey: 'legacy.net', Enabled: 'yes', Values: 'not an array' },
        { ConfigKey: 'legacy.copy', Values: [{ Value: 'fast', Rules: rules.replace('4G', 'LTE') }] },
      ]),
    });
    expect(mixed.ResultCode).toBe('InvalidContent');
    expect(mixed.ImportSwitchConfigResult.ResultMsg).toMatch(/^Content: item 2 \(legacy\.copy\): .*netType value "LTE"/);
    expect(await rows()).toEqual(before);
    await call('DeleteMcubeSwitchConfig', { ConfigKey: 'legacy.net' });
  });

  it('Keyword matches letters beyond ASCII without regard to case, on both databases', async () => {
    expect((await create('summer.sale', [{ Value: 'on' }], { Note: 'Été ÄRGER 100%' })).ResultCode).toBe('OK');
    for (const word of ['été', 'ÉTÉ', 'ärger', '100%']) {
      const found = (await call('ListMcubeSwitchConfigs', { Keyword: word })).ListSwitchConfigResult;
      expect({ word, keys: found.SwitchConfigs.map((c: any) => c.ConfigKey) }).toEqual({ word, keys: ['summer.sale'] });
    }
    expect((await call('ListMcubeSwitchConfigs', { Keyword: '_' })).ListSwitchConfigResult.TotalCount).toBe(0);
    await call('DeleteMcubeSwitchConfig', { ConfigKey: 'summer.sale' });
  });

  it('concurrent imports of the same keys: one adds them, the others skip them, none fails', async () => {
    const content = JSON.stringify(Array.from({ length: 30 }, (_, i) => ({ ConfigKey: `race.${i}`, Values: [{ Value: String(i) }] })));
    const results = await Promise.all([1, 2, 3].map(() => call('ImportMcubeSwitchConfigs', { Content: content })));
    expect(results.map((r) => r.ResultCode)).toEqual(['OK', 'OK', 'OK']);
    expect(results.map((r) => r.ImportSwitchConfigResult.ImportedKeys.length).sort()).toEqual([0, 0, 30]);
    for (let i = 0; i < 30; i++) await call('DeleteMcubeSwitchConfig', { ConfigKey: `race.${i}` });
  });

  it('devices may send keys as a JSON array', async () => {
    const r = await deviceCheck(srv.url, { platform: 'ios', keys: ['ios.only', 'nope'] }, { clientKey: srv.creds.clientKey, path: '/device/config/pull', json: true });
    expect(r.body.data).toEqual({ 'ios.only': 'yes' });
    const bad = await deviceCheck(srv.url, { platform: 'ios', keys: { a: 1 } }, { clientKey: srv.creds.clientKey, path: '/device/config/pull', json: true });
    expect(bad.status).toBe(400);
  });
});

describe('bad input is refused and changes nothing', () => {
  it('each refusal names the field, and no row is written', async () => {
    const before = await rows();
    const cases: Array<[string, unknown, Record<string, unknown>?]> = [
      ['InvalidConfigKey', [{ Value: 'x' }], { ConfigKey: 'has space' }],
      ['InvalidValues', 'not json'],
      ['InvalidValues', []],
      ['InvalidValues', [{ Value: 'x', Colour: 'red' }]],
      ['InvalidValues', [{ Value: { nested: true } }]],
      ['InvalidValues', [{ Value: 'x', Type: 'WHITELIST' }]],
      ['InvalidValues', [{ Value: 'x', Type: 'WHITELIST', WhitelistIds: '999999' }]],
      ['InvalidValues', [{ Value: 'x', WhitelistIds: betaList }]],
      ['InvalidValues', [{ Value: 'x', Type: 'PERCENT', Percent: 0 }]],
      ['InvalidValues', [{ Value: 'x', Type: 'PERCENT', Percent: 100.5 }]],
      ['InvalidValues', [{ Value: 'x', Type: 'PERCENT', Percent: 12.345 }]],
      ['InvalidValues', [{ Value: 'x', Platform: 'HARMONY' }]],
      ['InvalidValues', [{ Value: 'x', Rules: [{ ruleElement: 'planet', operation: 1, value: 'Mars' }] }]],
      ['InvalidValues', Array.from({ length: 21 }, () => ({ Value: 'x' }))],
      // PostgreSQL text cannot hold NUL; a lone surrogate has no UTF-8 form
      ['InvalidValues', [{ Value: 'a\u0000b' }]],
      ['InvalidValues', [{ Value: 'a\ud800b' }]],
      ['InvalidValues', [{ Value: 'x', Type: 'PERCENT', Percent: '0x10' }]],
      ['InvalidValues', [{ Value: 'x', Type: 'PERCENT', Percent: '1e1' }]],
      // numbers JSON.parse would round: refused rather than delivered as 12345678901234567000 or Infinity
      ['InvalidValues', '[{"Value":12345678901234567890}]'],
      ['InvalidValues', '[{"Value":1e400}]'],
      ['InvalidValues', '[{"Value":-1e400,"Platform":"IOS"}]'],
      // numbers JSON.parse writes otherwise: a minimum version 1.10 reached devices as "1.1"
      ['InvalidValues', '[{"Value":1.10}]'],
      ['InvalidValues', '[{"Value":"a"},{"Value":1e3,"Platform":"IOS"}]'],
      ['InvalidValues', '[{"Value":-0}]'],
      // one character more than the limit, counted as characters (an emoji is one)
      ['InvalidValues', [{ Value: '\u{1F600}'.repeat(4097) }]],
      ['SwitchConfigExists', [{ Value: 'x' }], { ConfigKey: 'rollout' }],
    ];
    for (const [code, values, extra] of cases) {
      const r = await call('CreateMcubeSwitchConfig', { ConfigKey: 'refused.key', Values: typeof values === 'string' ? values : JSON.stringify(values), ...extra });
      expect({ values, code: r.ResultCode }).toEqual({ values, code });
      expect(r.CreateSwitchConfigResult.Success).toBe(false);
      expect(r.RequestId).toEqual(expect.any(String));
    }
    // an import with one bad item imports none of the good ones
    const bad = await call('ImportMcubeSwitchConfigs', { Content: JSON.stringify([{ ConfigKey: 'good.one', Values: [{ Value: 'a' }] }, { ConfigKey: 'bad one', Values: [{ Value: 'b' }] }]) });
    expect(bad.ResultCode).toBe('InvalidContent');
    expect(bad.ResultMessage ?? bad.ImportSwitchConfigResult.ResultMsg).toContain('item 2');
    const typo = await call('ImportMcubeSwitchConfigs', { Content: JSON.stringify([{ ConfigKey: 'typo', Enable: false, Values: [{ Value: 'a' }] }]) });
    expect(typo.ResultCode).toBe('InvalidContent');
    expect(typo.ImportSwitchConfigResult.ResultMsg).toContain('"Enable"');
    const nul = await call('ImportMcubeSwitchConfigs', { Content: JSON.stringify([{ ConfigKey: 'nul', Note: 'a\u0000', Values: [{ Value: 'a' }] }]) });
    expect(nul.ResultCode).toBe('InvalidContent');
    const huge = await call('ImportMcubeSwitchConfigs', { Content: '[{"ConfigKey":"num.i","Values":[{"Value":-1e400}]}]' });
    expect(huge.ResultCode).toBe('InvalidContent');
    expect(huge.ImportSwitchConfigResult.ResultMsg).toContain('a Value -1e400 would reach devices as -Infinity');
    const dup = await call('ImportMcubeSwitchConfigs', { Content: JSON.stringify([{ ConfigKey: 'twice', Values: [{ Value: 'a' }] }, { ConfigKey: 'twice', Values: [{ Value: 'b' }] }]) });
    expect(dup.ResultCode).toBe('InvalidContent');
    // an update that fails keeps the old values
    const upd = await call('UpdateMcubeSwitchConfig', { ConfigKey: 'rollout', Values: JSON.stringify([{ Value: 'x', Type: 'WHITELIST', WhitelistIds: '999999' }]) });
    expect(upd.ResultCode).toBe('InvalidValues');
    expect(await rows()).toEqual(before);
    expect((await data({ userId: 'user-1', keys: 'rollout' })).rollout).toMatch(/^(new|old)$/);
  });

  it('numbers and booleans JavaScript holds exactly are taken, and devices get them as text', async () => {
    const r = await call('CreateMcubeSwitchConfig', { ConfigKey: 'num.ok', Values: '[{"Value":9007199254740991,"Platform":"ANDROID"},{"Value":true,"Platform":"IOS"},{"Value":1.5}]' });
    expect(r.ResultCode).toBe('OK');
    expect((await data({ platform: 'Android', userId: 'n1', keys: 'num.ok' }))['num.ok']).toBe('9007199254740991');
    expect((await data({ platform: 'iOS', userId: 'n1', keys: 'num.ok' }))['num.ok']).toBe('true');
    // a value of 4,096 characters beyond the BMP (8,192 UTF-16 units) is within the limit
    const wide = '\u{1F600}'.repeat(4096);
    expect((await call('CreateMcubeSwitchConfig', { ConfigKey: 'wide.value', Values: JSON.stringify([{ Value: wide }]) })).ResultCode).toBe('OK');
    expect((await data({ platform: 'Android', userId: 'n1', keys: 'wide.value' }))['wide.value']).toBe(wide);
    // Enabled belongs to create and ChangeMcubeSwitchConfigStatus: an update that sends it is told so, not answered OK for nothing
    const off = await call('UpdateMcubeSwitchConfig', { ConfigKey: 'wide.value', Enabled: 'false' });
    expect(off.ResultCode).toBe('InvalidEnabled');
    expect(off.ResultMessage).toMatch(/ChangeMcubeSwitchConfigStatus/);
    expect((await data({ platform: 'Android', userId: 'n1', keys: 'wide.value' }))['wide.value']).toBe(wide);
    // an import is held to the same rule on numbers
    const imported = await call('ImportMcubeSwitchConfigs', { Content: '[{"ConfigKey":"num.import","Values":[{"Value":1.10}]}]' });
    expect(imported.ResultCode).toBe('InvalidContent');
    expect(imported.ImportSwitchConfigResult.ResultMsg).toContain('a Value 1.10 would reach devices as 1.1');
  });

  it('a client version the pull cannot read counts as none: the device still gets its keys', async () => {
    expect((await call('CreateMcubeSwitchConfig', { ConfigKey: 'any.client', Values: '[{"Value":"on"}]' })).ResultCode).toBe('OK');
    for (const client of ['abc', '4.0.0.beta']) expect((await data({ platform: 'Android', userId: 'c1', client, keys: 'any.client' }))['any.client'], client).toBe('on');
  });

  it('the device endpoint wants a known client key and a platform', async () => {
    expect((await pull({ userId: 'alice' }, 'mck_nosuchkey0000000000000000000000')).status).toBe(401);
    const r = await pull({ platform: 'windows' });
    expect(r.status).toBe(400);
    expect(r.body.resultCode).not.toBe(100);
  });

  it('a whitelist a switch key uses cannot be deleted until the key is changed', async () => {
    const refused = await call('DeleteMcubeWhitelist', { Id: Number(betaList) });
    expect(refused.ResultCode).toBe('WhitelistInUse');
    expect(refused.DeleteWhitelistResult.ResultMsg).toContain('switch key pay.newCheckout');
    await call('UpdateMcubeSwitchConfig', { ConfigKey: 'pay.newCheckout', Values: JSON.stringify([{ Value: 'stable' }]) });
    expect((await call('DeleteMcubeWhitelist', { Id: Number(betaList) })).ResultCode).toBe('OK');
  });
});

describe('isolation', () => {
  it('another tenant sees none of the keys and its devices get none of them', async () => {
    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await store.ensureTenant('TENANT02');
    await store.ensureApp('TENANT02', 'ALIPUB0000002');
    const theirKey = await store.ensureWorkspace('ALIPUB0000002', 'default');
    const key = await store.createAccessKey('TENANT02');
    const other = openapiCore(srv.host, { accessKeyId: key.id, accessKeySecret: key.secret });
    const mine = { AppId: 'ALIPUB0000002', WorkspaceId: 'default', TenantId: 'TENANT02' };
    expect((await other('ListMcubeSwitchConfigs', mine)).body.ListSwitchConfigResult.TotalCount).toBe(0);
    expect((await other('DeleteMcubeSwitchConfig', { ...mine, ConfigKey: 'rollout' })).body.ResultCode).toBe('SwitchConfigNotFound');
    expect((await other('ChangeMcubeSwitchConfigStatus', { ...mine, ConfigKey: 'rollout', Enabled: false })).body.ResultCode).toBe('SwitchConfigNotFound');
    // the same key name in the other tenant is its own key
    expect((await other('CreateMcubeSwitchConfig', { ...mine, ConfigKey: 'rollout', Values: JSON.stringify([{ Value: 'theirs' }]) })).body.ResultCode).toBe('OK');
    const theirs = await pull({ userId: 'user-1' }, theirKey);
    expect(theirs.body.data).toEqual({ rollout: 'theirs' });
    expect((await data({ userId: 'user-1', keys: 'rollout' })).rollout).toMatch(/^(new|old)$/);
    // naming the first tenant's app is refused by the gateway
    const cross = await other('ListMcubeSwitchConfigs', { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId }).catch((e) => e);
    expect(cross.statusCode).toBe(403);
  });
});
