import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { countRows, createTask, mcube, publishFixture, setTaskStatus, utcIn, type Call } from '../helpers/nebula.js';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let call: Call;
let pkg: number;
let whitelistA: string;
let whitelistB: string;
const changes: string[] = [];

beforeAll(async () => {
  srv = await startTestServer();
  const deps = srv.node.deps;
  const original = deps.onDeliveryChange;
  deps.onDeliveryChange = (appId, ws) => {
    changes.push(`${appId}/${ws}`);
    original(appId, ws);
  };
  const p = await publishFixture(srv, { h5Id: '80000001', version: '1.0.0' });
  call = p.call;
  pkg = p.resourceId;
  const wl = async (name: string) => {
    const r = await call('CreateMcubeWhitelist', { WhiteListName: name, WhitelistType: 'normal' });
    expect(r.ResultCode).toBe('OK');
    await call('UpdateMcubeWhitelist', { Id: r.CreateWhitelistResult.WhitelistId, KeyIds: 'user1,user2', OnexFlag: true });
    return String(r.CreateWhitelistResult.WhitelistId);
  };
  whitelistA = await wl('testers');
  whitelistB = await wl('staff');
});
afterAll(async () => {
  await srv?.close();
});

const stamp = async () => Number((await srv.node.deps.db.knex('change_stamps').where({ app_id: srv.creds.appId }).first('stamp'))?.stamp ?? 0);
const period = async (id: number) => Number((await srv.node.deps.db.knex('nebula_resources').where({ id }).first('publish_period')).publish_period);
const taskRow = (id: number) => srv.node.deps.db.knex('nebula_tasks').where({ id }).first();

describe('CreateMcubeNebulaTask happy paths and the column contract', () => {
  it('official release: string NebulaTaskId, stored as publish_type 3 / publish_mode 4, releasing, stamp moved', async () => {
    const s0 = await stamp();
    const n0 = changes.length;
    // SerialVersionUID: what a Java client copies from its request class, a negative 64-bit number; ignored
    const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, PublishType: 3, PublishMode: '', Memo: 'go live', BizType: 'nebula', Platform: 'ignored', SerialVersionUID: '-7060210544600464481' });
    expect(r.ResultCode).toBe('OK');
    expect(r.CreateMcubeNebulaTaskResult).toEqual({ NebulaTaskId: expect.stringMatching(/^\d+$/), Success: true, ResultMsg: '', ErrorCode: '', RequestId: r.RequestId });
    const id = Number(r.CreateMcubeNebulaTaskResult.NebulaTaskId);
    const row = await taskRow(id);
    expect(row).toMatchObject({
      publish_type: 3, publish_mode: 4, task_status: 1, task_type: 0, grey_num: 0, grey_admitted: 0, grey_config_info: '', whitelist_ids: '', percent: 0, memo: 'go live', platform: 'all', h5_id: '80000001',
    });
    expect(row.grey_endtime).toBeNull();
    expect(Number(row.resource_id)).toBe(pkg);
    // the package's seed: every percentage task of a package buckets users alike
    expect(row.seed).toBe(`pkg:${pkg}`);
    expect(Math.abs(Number(row.task_version) - Date.now())).toBeLessThan(60_000);
    expect(await stamp()).toBe(s0 + 1);
    expect(changes.slice(n0)).toEqual([`${srv.creds.appId}/${srv.creds.workspaceId}`]);
    expect(await period(pkg)).toBe(3);
    expect((await setTaskStatus(call, id, 2)).ResultCode).toBe('OK');
  });

  it('whitelist gray: ids trimmed, de-duplicated, stored as a comma list; rules stored as given, listed in the evaluated form', async () => {
    const rules = JSON.stringify([
      { ruleElement: 'city', operation: 1, value: 'Shanghai, Beijing ,Tianjin' },
      { ruleElement: 'mobileModel', operation: 2, value: 'REDMI NOTE 3, VIVO X5M' },
      { ruleElement: 'osVersion', operation: 3, value2: '9.2.1', value1: '9.2.1', value: '9.2.1-9.2.1' },
      { ruleElement: 'osVersion', operation: 4, value1: '1.0', value2: '5.0' },
      { ruleElement: 'netType', operation: '1', value: 'WIFI' },
    ]);
    const id = await createTask(call, pkg, { PublishType: 2, PublishMode: 1, WhitelistIds: ` ${whitelistB} , ${whitelistA},${whitelistB}`, GreyConfigInfo: rules });
    const row = await taskRow(id);
    expect(row).toMatchObject({ publish_type: 2, publish_mode: 1, task_status: 1, whitelist_ids: `${whitelistB},${whitelistA}`, grey_config_info: rules });
    const d = (await call('GetMcubeNebulaTaskDetail', { TaskId: id })).GetMcubeNebulaTaskDetailResult;
    expect(d.Success).toBe(true);
    const detail = d.NebulaTaskDetail;
    expect(detail).toMatchObject({ Id: id, PackageId: pkg, PublishType: 2, PublishMode: 1, TaskStatus: 1, TaskType: 0, GreyConfigInfo: rules, WhitelistIds: `${whitelistB},${whitelistA}`, PublishPeriod: 1, BizType: 'nebula', ProductVersion: '1.0.0', ProductId: `${srv.creds.appId}-${srv.creds.workspaceId}-80000001` });
    expect(detail.DownloadUrl).toMatch(/^http:\/\/.+\.amr.*;http:\/\/.+\.amr/);
    expect(detail.FileSize).toMatch(/^\d+$/);
    expect(detail.RuleJsonList).toEqual([
      { RuleElement: 'city', Operation: '1', RuleType: 'contains', Value: 'Shanghai,Beijing,Tianjin' },
      { RuleElement: 'mobileModel', Operation: '2', RuleType: 'excludes', Value: 'REDMI NOTE 3,VIVO X5M' },
      { RuleElement: 'osVersion', Operation: '3', RuleType: 'vLimitIn', Value: '9.2.1-9.2.1' },
      { RuleElement: 'osVersion', Operation: '4', RuleType: 'vLimitOut', Value: '1.0-5.0' },
      { RuleElement: 'netType', Operation: '1', RuleType: 'contains', Value: 'WIFI' },
    ]);
    const tree = {
      operator: 'and',
      defaultResult: false,
      subRules: [
        { operator: 'contains', left: ['Shanghai', 'Beijing', 'Tianjin'], right: 'city', defaultResult: false },
        { operator: 'excludes', left: ['REDMI NOTE 3', 'VIVO X5M'], right: 'mobileModel', defaultResult: false },
        { operator: 'vLimitIn', left: { lower: '9.2.1', upper: '9.2.1' }, right: 'osVersion', defaultResult: false },
        { operator: 'vLimitOut', left: { lower: '1.0', upper: '5.0' }, right: 'osVersion', defaultResult: false },
        { operator: 'contains', left: ['WIFI'], right: 'netType', defaultResult: false },
      ],
    };
    expect(JSON.parse(detail.GreyRuleJson)).toEqual(tree);
    const list = (await call('ListMcubeNebulaTasks', { Id: pkg })).ListMcubeNebulaTaskResult;
    expect(list.Success).toBe(true);
    // the list answers with the evaluated form, "different from that in the upload request" (guide §5.6.2)
    expect(JSON.parse(list.NebulaTaskInfo[0].GreyConfigInfo)).toEqual(tree);
    expect(list.NebulaTaskInfo[0]).toMatchObject({ Id: id, PublishMode: 1, AppCode: `${srv.creds.appId}-${srv.creds.workspaceId}`, TaskName: 'app 80000001' });
    expect(list.NebulaTaskInfo).toHaveLength(2);
    await setTaskStatus(call, id, 2);
  });

  it('an OS-version range with an empty maximum has no upper bound (DELIVERY-RULES.md), in either form', async () => {
    const offered = async (system: string) =>
      (await deviceCheck(srv.url, { platform: 'android', client: '2.0.0', system, userId: 'os-range', query: queryOf({ '80000001': '' }) }, { clientKey: srv.creds.clientKey })).body.data.map((e: any) => e.version);
    for (const rule of [
      { ruleElement: 'osVersion', operation: 3, value: '9.0-' },
      { ruleElement: 'osVersion', operation: 3, value1: '9.0', value2: '' },
    ]) {
      const id = await createTask(call, pkg, { PublishType: 2, PublishMode: 3, Percent: 100, GreyConfigInfo: JSON.stringify([rule]) });
      const detail = (await call('GetMcubeNebulaTaskDetail', { TaskId: id })).GetMcubeNebulaTaskDetailResult.NebulaTaskDetail;
      expect(detail.RuleJsonList).toEqual([{ RuleElement: 'osVersion', Operation: '3', RuleType: 'vLimitIn', Value: '9.0-' }]);
      expect(await offered('9.0')).toEqual(['1.0.0']);
      expect(await offered('99.1.2')).toEqual(['1.0.0']);
      expect(await offered('8.1')).toEqual([]);
      await setTaskStatus(call, id, 2);
    }
  });

  it('release time: set when a task is created releasing or started (0 -> 1), kept when it is continued after a pause', async () => {
    const releasing = await createTask(call, pkg, { PublishType: 2, PublishMode: 3, Percent: 10 });
    expect(Number((await taskRow(releasing)).released_at)).toBe(Number((await taskRow(releasing)).created_at));
    const waiting = await createTask(call, pkg, { PublishType: 2, PublishMode: 3, Percent: 10, TaskStatus: 0 });
    expect((await taskRow(waiting)).released_at).toBeNull();
    await new Promise((r) => setTimeout(r, 5));
    expect((await setTaskStatus(call, waiting, 1)).ResultCode).toBe('OK');
    const started = Number((await taskRow(waiting)).released_at);
    expect(started).toBeGreaterThan(Number((await taskRow(waiting)).created_at));
    expect((await setTaskStatus(call, waiting, 3)).ResultCode).toBe('OK');
    expect((await setTaskStatus(call, waiting, 1)).ResultCode).toBe('OK');
    expect(Number((await taskRow(waiting)).released_at)).toBe(started);
    for (const id of [releasing, waiting]) await setTaskStatus(call, id, 2);
  });

  it('time-window gray: end time read as UTC and stored in epoch ms, GreyNum kept, admissions start at 0', async () => {
    const end = utcIn(2 * 86400_000);
    const id = await createTask(call, pkg, { PublishType: 2, PublishMode: 2, GreyEndtimeData: end, GreyNum: 500, TaskStatus: 0 });
    const row = await taskRow(id);
    expect(row).toMatchObject({ publish_mode: 2, task_status: 0, grey_num: 500, grey_admitted: 0 });
    expect(Number(row.grey_endtime)).toBe(Date.parse(end.replace(' ', 'T') + 'Z'));
    const d = (await call('GetMcubeNebulaTaskDetail', { TaskId: id })).GetMcubeNebulaTaskDetailResult.NebulaTaskDetail;
    expect(d).toMatchObject({ GreyEndtimeData: end, GreyNum: 500, TaskStatus: 0, RuleJsonList: [], GreyRuleJson: '' });
    await setTaskStatus(call, id, 2);
  });

  it('a task stored with a network type the check now refuses (written before it) is still listed and read', async () => {
    const id = await createTask(call, pkg, { PublishType: 2, PublishMode: 3, Percent: 5, GreyConfigInfo: JSON.stringify([{ ruleElement: 'netType', operation: 1, value: '4G' }]) });
    // what an older version stored: it had no network-type check
    await srv.node.deps.db.knex('nebula_tasks').where({ id }).update({ grey_config_info: JSON.stringify([{ ruleElement: 'netType', operation: 1, value: 'LTE' }]) });
    expect((await call('ListMcubeNebulaTasks', { Id: pkg })).ResultCode).toBe('OK');
    const detail = await call('GetMcubeNebulaTaskDetail', { TaskId: id });
    expect(detail.ResultCode).toBe('OK');
    expect(detail.GetMcubeNebulaTaskDetailResult.NebulaTaskDetail.RuleJsonList).toEqual([expect.objectContaining({ RuleElement: 'netType', Value: 'LTE' })]);
    await setTaskStatus(call, id, 2);
  });

  it('percentage gray (extension): Percent stored', async () => {
    const id = await createTask(call, pkg, { PublishType: 2, PublishMode: 3, Percent: 25 });
    expect(await taskRow(id)).toMatchObject({ publish_mode: 3, percent: 25 });
    await setTaskStatus(call, id, 2);
  });

  it('the rollback warning names only rollbacks that share a platform with the new task\'s package', async () => {
    const a1 = await publishFixture(srv, { h5Id: '80000012', version: '1.0.0', platform: 'Android' });
    const a2 = await publishFixture(srv, { h5Id: '80000012', version: '1.0.1', platform: 'Android' });
    const i3 = await publishFixture(srv, { h5Id: '80000012', version: '1.0.2', platform: 'iOS' });
    const released = await createTask(call, a2.resourceId, { PublishType: 3 });
    const rb = await createTask(call, a1.resourceId, { PublishType: 3, TaskType: 1 });
    const task = async (packageId: number) => (await call('CreateMcubeNebulaTask', { Id: 0, PackageId: packageId, BizType: 'nebula', PublishType: 3 })).CreateMcubeNebulaTaskResult;
    const ios = await task(i3.resourceId);
    expect(ios).toMatchObject({ Success: true, ResultMsg: '' });
    const android = await task(a2.resourceId);
    expect(android.ResultMsg).toContain(`Rollback task ${rb} of 80000012`);
    for (const id of [released, rb, Number(ios.NebulaTaskId), Number(android.NebulaTaskId)]) await setTaskStatus(call, id, 2);
  });

  it('percentage gray: a raise (end the task, create one with more for the same package) keeps every user', async () => {
    // a package of its own: no other task of this file delivers it
    const own = (await publishFixture(srv, { h5Id: '80000009', version: '1.0.0' })).resourceId;
    const users = Array.from({ length: 400 }, (_, i) => `pct-user-${i}`);
    const reached = async () => {
      const got = new Set<string>();
      for (const u of users) {
        const r = await deviceCheck(srv.url, { platform: 'android', client: '9.0.0', userId: u, query: queryOf({ '80000009': '' }) }, { clientKey: srv.creds.clientKey });
        if (r.body.data.length) got.add(u);
      }
      return got;
    };
    const first = await createTask(call, own, { PublishType: 2, PublishMode: 3, Percent: 20 });
    const at20 = await reached();
    await setTaskStatus(call, first, 2);
    const second = await createTask(call, own, { PublishType: 2, PublishMode: 3, Percent: 50 });
    const at50 = await reached();
    await setTaskStatus(call, second, 2);
    // 20 % and 50 % of 400, each at least five standard deviations away from the bound
    expect(at20.size).toBeGreaterThan(40);
    expect(at50.size).toBeGreaterThan(at20.size + 60);
    expect([...at20].filter((u) => !at50.has(u))).toEqual([]);
  });
});

describe('CreateMcubeNebulaTask refuses every broken rule, naming the field, and stores nothing', () => {
  const cases: Array<[string, () => Record<string, unknown>, string, RegExp?]> = [
    ['Id not 0', () => ({ Id: 7, PublishType: 3 }), 'Id'],
    ['PackageId missing', () => ({ PackageId: undefined, PublishType: 3 }), 'PackageId'],
    ['PackageId unknown', () => ({ PackageId: 999999, PublishType: 3 }), 'PackageId'],
    ['PackageId beyond the row ids', () => ({ PackageId: Number.MAX_SAFE_INTEGER, PublishType: 3 }), 'PackageId'],
    ['WhitelistIds beyond the row ids', () => ({ PublishType: 2, PublishMode: 1, WhitelistIds: '999999999999999' }), 'WhitelistIds'],
    ['BizType other', () => ({ BizType: 'hotpatch', PublishType: 3 }), 'BizType'],
    ['PublishType missing', () => ({ PublishType: undefined }), 'PublishType'],
    ['PublishType 1', () => ({ PublishType: 1 }), 'PublishType'],
    ['PublishMode 1 with official', () => ({ PublishType: 3, PublishMode: 1 }), 'PublishMode'],
    ['PublishMode missing with gray', () => ({ PublishType: 2 }), 'PublishMode'],
    ['PublishMode 4 with gray', () => ({ PublishType: 2, PublishMode: 4 }), 'PublishMode'],
    ['PublishMode 5 with gray', () => ({ PublishType: 2, PublishMode: 5 }), 'PublishMode'],
    ['WhitelistIds missing for whitelist mode', () => ({ PublishType: 2, PublishMode: 1 }), 'WhitelistIds'],
    ['WhitelistIds not ids', () => ({ PublishType: 2, PublishMode: 1, WhitelistIds: 'abc' }), 'WhitelistIds'],
    ['WhitelistIds empty element', () => ({ PublishType: 2, PublishMode: 1, WhitelistIds: `${whitelistA},,` }), 'WhitelistIds'],
    ['WhitelistIds unknown', () => ({ PublishType: 2, PublishMode: 1, WhitelistIds: `${whitelistA},999999` }), 'WhitelistIds', /999999/],
    ['WhitelistIds with official', () => ({ PublishType: 3, WhitelistIds: whitelistA }), 'WhitelistIds'],
    ['WhitelistIds with time window', () => ({ PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(3600_000), GreyNum: 1, WhitelistIds: whitelistA }), 'WhitelistIds'],
    ['GreyEndtimeData missing', () => ({ PublishType: 2, PublishMode: 2, GreyNum: 10 }), 'GreyEndtimeData'],
    ['GreyEndtimeData malformed', () => ({ PublishType: 2, PublishMode: 2, GreyNum: 10, GreyEndtimeData: '2030/01/01 10:00' }), 'GreyEndtimeData'],
    ['GreyEndtimeData impossible date', () => ({ PublishType: 2, PublishMode: 2, GreyNum: 10, GreyEndtimeData: '2030-02-30 10:00:00' }), 'GreyEndtimeData'],
    ['GreyEndtimeData in the past', () => ({ PublishType: 2, PublishMode: 2, GreyNum: 10, GreyEndtimeData: utcIn(-60_000) }), 'GreyEndtimeData', /future/],
    ['GreyEndtimeData 7 days ahead', () => ({ PublishType: 2, PublishMode: 2, GreyNum: 10, GreyEndtimeData: utcIn(7 * 86400_000 + 60_000) }), 'GreyEndtimeData', /7 days/],
    ['GreyNum missing', () => ({ PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(3600_000) }), 'GreyNum'],
    ['GreyNum 0', () => ({ PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(3600_000), GreyNum: 0 }), 'GreyNum'],
    ['GreyNum negative', () => ({ PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(3600_000), GreyNum: -5 }), 'GreyNum'],
    ['GreyNum over the cap', () => ({ PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(3600_000), GreyNum: 1_000_001 }), 'GreyNum', /1 to 1000000/],
    ['GreyNum with whitelist mode', () => ({ PublishType: 2, PublishMode: 1, WhitelistIds: whitelistA, GreyNum: 5 }), 'GreyNum'],
    ['GreyEndtimeData with official', () => ({ PublishType: 3, GreyEndtimeData: utcIn(3600_000) }), 'GreyEndtimeData'],
    ['Percent missing', () => ({ PublishType: 2, PublishMode: 3 }), 'Percent'],
    ['Percent 0', () => ({ PublishType: 2, PublishMode: 3, Percent: 0 }), 'Percent'],
    ['Percent 101', () => ({ PublishType: 2, PublishMode: 3, Percent: 101 }), 'Percent'],
    ['Percent with official', () => ({ PublishType: 3, Percent: 50 }), 'Percent'],
    ['TaskType 2', () => ({ PublishType: 3, TaskType: 2 }), 'TaskType'],
    ['TaskType rollback on the newest version', () => ({ PublishType: 3, TaskType: 1 }), 'TaskType', /newest/],
    ['TaskStatus 2 for a new task', () => ({ PublishType: 3, TaskStatus: 2 }), 'TaskStatus'],
    ['TaskStatus 3 for a new task', () => ({ PublishType: 3, TaskStatus: 3 }), 'TaskStatus'],
    ['GreyConfigInfo with official', () => ({ PublishType: 3, GreyConfigInfo: '[{"ruleElement":"city","operation":1,"value":"A"}]' }), 'GreyConfigInfo'],
    ...(
      [
        ['not JSON', '[{ruleElement:city}]'],
        ['not an array', '{"ruleElement":"city","operation":1,"value":"A"}'],
        ['unknown ruleElement', '[{"ruleElement":"country","operation":1,"value":"A"}]'],
        ['operation 5', '[{"ruleElement":"city","operation":5,"value":"A"}]'],
        ['operation missing', '[{"ruleElement":"city","value":"A"}]'],
        ['range on city', '[{"ruleElement":"city","operation":3,"value":"1-2"}]'],
        ['a network type that is none (a typo matches nothing, silently)', '[{"ruleElement":"netType","operation":1,"value":"Wi-Fi,Wifi-typo"}]'],
        ['range lower above upper', '[{"ruleElement":"osVersion","operation":3,"value":"10.0-9.2.1"}]'],
        ['range not aa-bb', '[{"ruleElement":"osVersion","operation":4,"value":"10.0"}]'],
        ['range bound not a version', '[{"ruleElement":"osVersion","operation":3,"value1":"a","value2":"b"}]'],
        ['empty value', '[{"ruleElement":"city","operation":1,"value":""}]'],
        ['empty list element', '[{"ruleElement":"city","operation":2,"value":"A,,B"}]'],
        ['element too long', `[{"ruleElement":"mobileModel","operation":1,"value":"${'x'.repeat(101)}"}]`],
        ['too many elements', `[{"ruleElement":"city","operation":1,"value":"${Array.from({ length: 101 }, (_, i) => 'c' + i).join(',')}"}]`],
        ['rule not an object', '["city"]'],
      ] as const
    ).map(([n, v]): [string, () => Record<string, unknown>, string] => [`GreyConfigInfo ${n}`, () => ({ PublishType: 2, PublishMode: 3, Percent: 10, GreyConfigInfo: v }), 'GreyConfigInfo']),
  ];
  for (const [name, fields, field, extra] of cases) {
    it(name, async () => {
      const before = { tasks: await countRows(srv, 'nebula_tasks'), stamp: await stamp(), period: await period(pkg) };
      const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, ...fields() });
      expect(r.ResultCode).not.toBe('OK');
      expect(r.CreateMcubeNebulaTaskResult).toMatchObject({ Success: false, ErrorCode: r.ResultCode });
      expect(r.ResultMessage).toMatch(new RegExp(`^${field}\\b`));
      if (extra) expect(r.ResultMessage).toMatch(extra);
      expect({ tasks: await countRows(srv, 'nebula_tasks'), stamp: await stamp(), period: await period(pkg) }).toEqual(before);
    });
  }

  it('a whitelist of another app is not accepted', async () => {
    const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    await tenants.ensureTenant('TENANT02');
    await tenants.ensureApp('TENANT02', 'ALIPUB0000002');
    await tenants.ensureWorkspace('ALIPUB0000002', 'default');
    const key = await tenants.createAccessKey('TENANT02');
    const other = mcube(srv, { accessKeyId: key.id, accessKeySecret: key.secret, appId: 'ALIPUB0000002', workspaceId: 'default', tenantId: 'TENANT02' });
    const wl = await other('CreateMcubeWhitelist', { WhiteListName: 'foreign', WhitelistType: 'normal' });
    const foreignId = wl.CreateWhitelistResult.WhitelistId;
    const before = await countRows(srv, 'nebula_tasks');
    const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, PublishType: 2, PublishMode: 1, WhitelistIds: String(foreignId) });
    expect(r.ResultCode).toBe('InvalidWhitelistIds');
    // and the other tenant cannot create tasks on this tenant's package through its own app
    const t = await other('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, PublishType: 3 });
    expect(t.ResultCode).toBe('NebulaResourceNotFound');
    expect(t.ResultMessage).toMatch(/^PackageId/);
    const d = await other('GetMcubeNebulaTaskDetail', { TaskId: 1 });
    expect(d.ResultCode).toBe('NebulaTaskNotFound');
    expect(await countRows(srv, 'nebula_tasks')).toBe(before);
  });
});

describe('task status', () => {
  const allowed = new Set(['0>1', '0>2', '1>3', '3>1', '1>2', '3>2']);
  it('only 0→1, 0→2, 1→3, 3→1, 1→2, 3→2 are allowed; finished is final', async () => {
    const p = await publishFixture(srv, { h5Id: '80000002', version: '1.0.0' });
    const into = async (from: number): Promise<number> => {
      const id = await createTask(call, p.resourceId, { PublishType: 3, TaskStatus: from === 0 ? 0 : 1 });
      if (from === 2 || from === 3) expect((await setTaskStatus(call, id, from)).ResultCode).toBe('OK');
      return id;
    };
    for (const from of [0, 1, 2, 3]) {
      for (const to of [0, 1, 2, 3]) {
        const id = await into(from);
        const s0 = await stamp();
        const r = await setTaskStatus(call, id, to, p.resourceId);
        const row = await taskRow(id);
        if (allowed.has(`${from}>${to}`)) {
          expect(r.ResultCode, `${from}>${to}`).toBe('OK');
          expect(r.ChangeMcubeNebulaTaskStatusResult).toMatchObject({ Success: true, ResultMsg: '' });
          expect(row.task_status).toBe(to);
          expect(await stamp()).toBe(s0 + 1);
        } else {
          expect(r.ResultCode, `${from}>${to}`).toBe('InvalidTaskStatusChange');
          expect(r.ChangeMcubeNebulaTaskStatusResult).toMatchObject({ Success: false, ErrorCode: 'InvalidTaskStatusChange' });
          expect(r.ResultMessage).toMatch(/^TaskStatus/);
          expect(row.task_status).toBe(from);
          expect(await stamp()).toBe(s0);
        }
        if (row.task_status !== 2) await setTaskStatus(call, id, 2);
      }
    }
  });

  it('refuses bad ids, a foreign PackageId, unknown statuses', async () => {
    const id = await createTask(call, pkg, { PublishType: 3 });
    for (const [body, code, field] of [
      [{ TaskId: 'abc', TaskStatus: 3 }, 'InvalidTaskId', 'TaskId'],
      [{ TaskId: '', TaskStatus: 3 }, 'InvalidTaskId', 'TaskId'],
      [{ TaskId: '999999', TaskStatus: 3 }, 'NebulaTaskNotFound', 'TaskId'],
      [{ TaskId: String(id), PackageId: '999999', TaskStatus: 3 }, 'InvalidPackageId', 'PackageId'],
      [{ TaskId: String(id), TaskStatus: 7 }, 'InvalidTaskStatus', 'TaskStatus'],
      [{ TaskId: String(id) }, 'InvalidTaskStatus', 'TaskStatus'],
      [{ TaskId: String(id), TaskStatus: 3, BizType: 'hotpatch' }, 'InvalidBizType', 'BizType'],
    ] as const) {
      const r = await call('ChangeMcubeNebulaTaskStatus', body);
      expect(r.ResultCode, JSON.stringify(body)).toBe(code);
      expect(r.ResultMessage).toMatch(new RegExp(`^${field}`));
    }
    expect((await taskRow(id)).task_status).toBe(1);
    await setTaskStatus(call, id, 2);
  });

  it('at most 10 tasks per package that are not finished', async () => {
    const p = await publishFixture(srv, { h5Id: '80000003', version: '1.0.0' });
    const ids: number[] = [];
    for (let i = 0; i < 10; i++) ids.push(await createTask(call, p.resourceId, { PublishType: 2, PublishMode: 3, Percent: 10, TaskStatus: i % 2 }));
    await setTaskStatus(call, ids[1]!, 3);
    const before = await countRows(srv, 'nebula_tasks');
    const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: p.resourceId, PublishType: 3 });
    expect(r.ResultCode).toBe('TooManyTasks');
    expect(r.ResultMessage).toMatch(/^PackageId/);
    expect(await countRows(srv, 'nebula_tasks')).toBe(before);
    await setTaskStatus(call, ids[0]!, 2);
    expect(await createTask(call, p.resourceId, { PublishType: 3 })).toBeGreaterThan(0);
  });

  it('the package\'s publish period follows its tasks', async () => {
    const old = await publishFixture(srv, { h5Id: '80000004', version: '1.0.0' });
    const p = await publishFixture(srv, { h5Id: '80000004', version: '1.1.0' });
    const period = async (id = p.resourceId) =>
      (await call('ListMcubeNebulaResources', { H5Id: '80000004' })).ListMcubeNebulaResourceResult.NebulaResourceInfo.find((r: { Id: number }) => r.Id === id).PublishPeriod;
    expect(await period()).toBe(0);
    const pending = await createTask(call, p.resourceId, { PublishType: 3, TaskStatus: 0 });
    expect(await period()).toBe(0);
    const white = await createTask(call, p.resourceId, { PublishType: 2, PublishMode: 1, WhitelistIds: whitelistA });
    expect(await period()).toBe(1);
    const window = await createTask(call, p.resourceId, { PublishType: 2, PublishMode: 2, GreyNum: 10, GreyEndtimeData: utcIn(86400_000) });
    expect(await period()).toBe(2);
    await setTaskStatus(call, pending, 1);
    expect(await period()).toBe(3);
    await setTaskStatus(call, pending, 3);
    expect(await period()).toBe(2);
    await setTaskStatus(call, window, 2);
    expect(await period()).toBe(1);
    await setTaskStatus(call, white, 3);
    // nothing releasing: the paused tasks tell the period (the official one, paused first)
    expect(await period()).toBe(3);
    await setTaskStatus(call, pending, 2);
    // then the paused whitelist task
    expect(await period()).toBe(1);
    await setTaskStatus(call, white, 2);
    expect(await period()).toBe(5);

    // rollback: the older package is delivered again
    const rb = await createTask(call, old.resourceId, { PublishType: 3, TaskType: 1 });
    expect((await taskRow(rb)).task_type).toBe(1);
    expect(await period(old.resourceId)).toBe(4);
    // a task created while the rollback releases is told that the rollback outranks it
    const created = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: old.resourceId, BizType: 'nebula', PublishType: 2, PublishMode: 3, Percent: 5 });
    expect(created.CreateMcubeNebulaTaskResult).toMatchObject({ Success: true, ResultMsg: expect.stringContaining(`Rollback task ${rb} of `) });
    const pct = Number(created.CreateMcubeNebulaTaskResult.NebulaTaskId);
    expect(await period(old.resourceId)).toBe(4);
    await setTaskStatus(call, rb, 2);
    expect(await period(old.resourceId)).toBe(2);
    await setTaskStatus(call, pct, 2);
    expect(await period(old.resourceId)).toBe(5);
  });

  it('ListMcubeNebulaTasks and GetMcubeNebulaTaskDetail refuse unknown ids', async () => {
    const l = await call('ListMcubeNebulaTasks', { Id: 999999 });
    expect(l.ResultCode).toBe('NebulaResourceNotFound');
    expect(l.ListMcubeNebulaTaskResult.Success).toBe(false);
    expect((await call('ListMcubeNebulaTasks', {})).ResultCode).toBe('InvalidId');
    const d = await call('GetMcubeNebulaTaskDetail', { TaskId: 999999 });
    expect(d.ResultCode).toBe('NebulaTaskNotFound');
    expect(d.ResultMessage).toMatch(/^TaskId/);
    expect((await call('GetMcubeNebulaTaskDetail', { TaskId: Number.MAX_SAFE_INTEGER })).ResultCode).toBe('NebulaTaskNotFound');
    expect((await call('ListMcubeNebulaTasks', { Id: Number.MAX_SAFE_INTEGER })).ResultCode).toBe('NebulaResourceNotFound');
    expect((await call('GetMcubeNebulaResource', { Id: '999999999999999' })).ResultCode).toBe('NebulaResourceNotFound');
    expect((await setTaskStatus(call, 999999999999999, 2)).ResultCode).toBe('NebulaTaskNotFound');
  });
});

describe('wire shape', () => {
  // ErrorCode is declared on the result objects but only sent with a failure.
  const props = (action: string, ...path: string[]) => {
    let s: any = srv.node.registry.get(action)!.result;
    for (const p of path) s = p === '[]' ? s.items : s.properties[p];
    return Object.keys(s.properties).sort();
  };
  it('every declared result field of the read actions is present, with no others', async () => {
    const id = await createTask(call, pkg, { PublishType: 2, PublishMode: 3, Percent: 1 });
    const list = (await call('ListMcubeNebulaResources', {})).ListMcubeNebulaResourceResult;
    expect(Object.keys(list).sort()).toEqual(props('ListMcubeNebulaResources'));
    expect(Object.keys(list.NebulaResourceInfo[0]).sort()).toEqual(props('ListMcubeNebulaResources', 'NebulaResourceInfo', '[]'));
    const got = (await call('GetMcubeNebulaResource', { Id: String(pkg) })).GetNebulaResourceResult;
    expect(Object.keys(got.NebulaResourceInfo).sort()).toEqual(props('GetMcubeNebulaResource', 'NebulaResourceInfo'));
    const tasks = (await call('ListMcubeNebulaTasks', { Id: pkg })).ListMcubeNebulaTaskResult;
    expect(Object.keys(tasks).sort()).toEqual(props('ListMcubeNebulaTasks'));
    expect(Object.keys(tasks.NebulaTaskInfo[0]).sort()).toEqual(props('ListMcubeNebulaTasks', 'NebulaTaskInfo', '[]'));
    expect(Object.keys(got).sort()).toEqual(props('GetMcubeNebulaResource'));
    const detail = (await call('GetMcubeNebulaTaskDetail', { TaskId: id })).GetMcubeNebulaTaskDetailResult;
    expect(Object.keys(detail).sort()).toEqual(props('GetMcubeNebulaTaskDetail'));
    expect(Object.keys(detail.NebulaTaskDetail).sort()).toEqual(props('GetMcubeNebulaTaskDetail', 'NebulaTaskDetail'));
    const apps = (await call('ListMcubeNebulaApps', {})).ListMcubeNebulaAppsResult;
    expect(Object.keys(apps).sort()).toEqual(props('ListMcubeNebulaApps'));
    await setTaskStatus(call, id, 2);
  });
});
