import { describe, expect, it } from 'vitest';
import { decideApp, type AdmissionPort } from '../../packages/server/src/features/delivery/engine/decide.js';
import { type Admission, type DeviceCheck } from '../../packages/server/src/features/delivery/engine/select.js';
import { compareVersions, parseVersion } from '../../packages/server/src/features/delivery/engine/versions.js';
import type { ResourceRow, Snapshot, TaskPlan, TaskRow } from '../../packages/server/src/features/delivery/snapshot.js';
import { device, resourceRow, snapshotOf, taskRow, type DeviceOpts } from '../helpers/delivery-fixtures.js';

/**
 * The delivery rules (docs DELIVERY-RULES.md, guide §4.3, §5.5, §7) as a
 * table: each case is a set of rows, a device, and the version (and task)
 * it must get. The engine runs over an in-memory snapshot, so no database.
 */

/** Time-window admissions as the database keeps them: first GreyNum distinct users, until the end time. */
class MemoryAdmissions implements AdmissionPort {
  readonly admitted = new Map<number, Set<string>>();
  constructor(private readonly now: number) {}
  verdict = (t: TaskPlan, u: string): Admission => {
    if (!u || t.greyNum <= 0) return 'rejected';
    const set = this.admitted.get(t.id);
    if (set?.has(u)) return 'admitted';
    if ((set?.size ?? 0) >= t.greyNum || (t.endTime !== null && this.now >= t.endTime)) return 'rejected';
    return 'unknown';
  };
  admit = async (t: TaskPlan, u: string): Promise<void> => {
    const set = this.admitted.get(t.id) ?? new Set<string>();
    this.admitted.set(t.id, set);
    if (set.size < t.greyNum && !(t.endTime !== null && this.now >= t.endTime)) set.add(u);
  };
  count(taskId: number): number {
    return this.admitted.get(taskId)?.size ?? 0;
  }
}

type Row = { task: TaskRow; resource: ResourceRow };
type Lists = Array<{ id: number; type: 'normal' | 'regex'; values: string[] }>;

interface Outcome {
  version: string | null;
  taskId: number | null;
  discard: string | null;
}

async function decide(snap: Snapshot, dev: DeviceCheck, installed?: string, port?: AdmissionPort, h5Id = '70000000'): Promise<Outcome> {
  const plans = snap.apps.get(h5Id) ?? [];
  const d = await decideApp(plans, dev, installed ? parseVersion(installed) : null, installed ?? '', port ?? new MemoryAdmissions(dev.now));
  return d.kind === 'deliver' ? { version: d.task.versionText, taskId: d.task.id, discard: d.discard } : { version: null, taskId: null, discard: null };
}

const res = (version: string, o: Partial<ResourceRow> = {}) => resourceRow({ h5_version: version, ...o });
const one = (r: ResourceRow, o: Partial<TaskRow> = {}): Row => ({ task: taskRow(r, o), resource: r });

interface Case {
  rule: string;
  rows: () => Row[];
  lists?: Lists;
  device: DeviceOpts;
  installed?: string;
  /** the version delivered, or null for no entry */
  expect: string | null;
}

const NOW = 1_800_000_000_000;

const cases: Case[] = [
  // -- which tasks can deliver
  { rule: 'a releasing task (1) delivers', rows: () => [one(res('1.0.0'), { task_status: 1 })], device: {}, expect: '1.0.0' },
  { rule: 'a task to be released (0) delivers nothing', rows: () => [one(res('1.0.0'), { task_status: 0 })], device: {}, expect: null },
  { rule: 'a finished task (2) delivers nothing', rows: () => [one(res('1.0.0'), { task_status: 2 })], device: {}, expect: null },
  { rule: 'a paused task (3) delivers nothing', rows: () => [one(res('1.0.0'), { task_status: 3 })], device: {}, expect: null },
  {
    rule: 'ending the task of V1.1 keeps V1.0 in delivery (guide §5.5)',
    rows: () => [one(res('1.0'), {}), one(res('1.1'), { task_status: 2 })],
    device: {},
    expect: '1.0',
  },

  // -- platform and client-version range
  { rule: 'platform Android: an Android device matches', rows: () => [one(res('1.0.0', { platform: 'Android', client_version_min: ';1.0.0' }))], device: { platform: 'android' }, expect: '1.0.0' },
  { rule: 'platform Android: an iOS device does not', rows: () => [one(res('1.0.0', { platform: 'Android', client_version_min: ';1.0.0' }))], device: { platform: 'ios' }, expect: null },
  { rule: 'platform iOS: an Android device does not', rows: () => [one(res('1.0.0', { platform: 'iOS', client_version_min: '1.0.0;' }))], device: { platform: 'android' }, expect: null },
  { rule: 'min ";2.0.0" targets Android only (platform all)', rows: () => [one(res('1.0.0', { client_version_min: ';2.0.0' }))], device: { platform: 'ios', client: '9.0' }, expect: null },
  { rule: 'min "1.0.0;" targets iOS only (platform all)', rows: () => [one(res('1.0.0', { client_version_min: '1.0.0;' }))], device: { platform: 'ios', client: '1.0.0' }, expect: '1.0.0' },
  { rule: 'the client range uses the side of the device platform', rows: () => [one(res('1.0.0', { client_version_min: '3.0.0;1.0.0' }))], device: { platform: 'ios', client: '2.0.0' }, expect: null },
  { rule: 'client below min: no', rows: () => [one(res('1.0.0', { client_version_min: '2.0.0;2.0.0' }))], device: { client: '1.9.9' }, expect: null },
  { rule: 'client equal to min: yes (inclusive)', rows: () => [one(res('1.0.0', { client_version_min: '2.0.0;2.0.0' }))], device: { client: '2.0.0' }, expect: '1.0.0' },
  { rule: 'client equal to max: yes (inclusive)', rows: () => [one(res('1.0.0', { client_version_max: '3.0.0;3.0.0' }))], device: { client: '3.0.0' }, expect: '1.0.0' },
  { rule: 'client above max: no', rows: () => [one(res('1.0.0', { client_version_max: '3.0.0;3.0.0' }))], device: { client: '3.0.1' }, expect: null },
  { rule: 'missing segments count as 0 ("3.0" = max "3.0.0")', rows: () => [one(res('1.0.0', { client_version_max: '3.0.0;3.0.0' }))], device: { client: '3' }, expect: '1.0.0' },
  { rule: 'numeric, not string: 10.0.1 is above max 9.2.1', rows: () => [one(res('1.0.0', { client_version_max: '9.2.1;9.2.1' }))], device: { client: '10.0.1' }, expect: null },
  { rule: 'numeric, not string: 1.10 is above min 1.9', rows: () => [one(res('1.0.0', { client_version_min: '1.9;1.9' }))], device: { client: '1.10' }, expect: '1.0.0' },
  { rule: 'an empty max is no upper bound', rows: () => [one(res('1.0.0', { client_version_max: '' }))], device: { client: '99.0.0' }, expect: '1.0.0' },
  { rule: 'an empty max side is no upper bound for that platform', rows: () => [one(res('1.0.0', { client_version_max: '2.0.0;' }))], device: { platform: 'android', client: '99.0.0' }, expect: '1.0.0' },

  // -- whitelists
  ...(() => {
    const wl = (values: Lists[number]['values'], type: 'normal' | 'regex' = 'normal', id = 11): Lists => [{ id, type, values }];
    const grayWl = (ids: string) => () => [one(res('1.0.0'), { publish_type: 2, publish_mode: 1, whitelist_ids: ids })];
    return [
      { rule: 'normal whitelist: an exact id matches', rows: grayWl('11'), lists: wl(['alice', 'bob']), device: { userKey: 'bob' }, expect: '1.0.0' },
      { rule: 'normal whitelist: matching is case-sensitive', rows: grayWl('11'), lists: wl(['alice']), device: { userKey: 'Alice' }, expect: null },
      { rule: 'normal whitelist: no substring match', rows: grayWl('11'), lists: wl(['alice']), device: { userKey: 'alice2' }, expect: null },
      { rule: 'normal whitelist: a device without user key is not on it', rows: grayWl('11'), lists: wl(['']), device: { userKey: '' }, expect: null },
      { rule: 'normal whitelist: a device id is not a user id (device sent only deviceId "bob")', rows: grayWl('11'), lists: wl(['bob']), device: { userKey: 'bob', userId: '' }, expect: null },
      { rule: 'regex whitelist: a device id is not a user id', rows: grayWl('11'), lists: wl(['\\d{6,}'], 'regex'), device: { userKey: '8675309123', userId: '' }, expect: null },
      { rule: 'regex whitelist: an expression matching the whole id', rows: grayWl('11'), lists: wl(['user-\\d+', 'qa-.*'], 'regex'), device: { userKey: 'user-42' }, expect: '1.0.0' },
      { rule: 'regex whitelist: any expression of the list matches', rows: grayWl('11'), lists: wl(['user-\\d+', 'qa-.*'], 'regex'), device: { userKey: 'qa-x' }, expect: '1.0.0' },
      { rule: 'regex whitelist: a match inside the id is not enough (String.matches)', rows: grayWl('11'), lists: wl(['user-\\d+'], 'regex'), device: { userKey: 'xuser-42' }, expect: null },
      { rule: 'regex whitelist: a prefix match is not enough', rows: grayWl('11'), lists: wl(['user-\\d+'], 'regex'), device: { userKey: 'user-42x' }, expect: null },
      { rule: 'regex whitelist: alternation is anchored as a whole', rows: grayWl('11'), lists: wl(['a|b'], 'regex'), device: { userKey: 'ab' }, expect: null },
      {
        rule: 'several whitelists form a union (normal + regex)',
        rows: grayWl('11,12'),
        lists: [...wl(['alice']), ...wl(['ops-\\d+'], 'regex', 12)],
        device: { userKey: 'ops-7' },
        expect: '1.0.0',
      },
      { rule: 'a user on none of the lists gets nothing', rows: grayWl('11,12'), lists: [...wl(['alice']), ...wl(['ops-\\d+'], 'regex', 12)], device: { userKey: 'eve' }, expect: null },
      { rule: 'a whitelist task whose lists are gone delivers nothing', rows: grayWl('99'), lists: wl(['alice']), device: { userKey: 'alice' }, expect: null },
    ] satisfies Case[];
  })(),

  // -- advanced rules (ANDed; comma values trimmed; versions as versions)
  ...(() => {
    const rules = (cfg: unknown[]) => () => [one(res('1.0.0'), { publish_type: 2, publish_mode: 3, percent: 100, grey_config_info: JSON.stringify(cfg) })];
    const cityAndOs = rules([
      { ruleElement: 'city', operation: 1, value: 'Shanghai, Beijing' },
      { ruleElement: 'osVersion', operation: 3, value: '9.2.1-10.0' },
    ]);
    return [
      { rule: 'rules ANDed: city in list and OS in range', rows: cityAndOs, device: { city: 'Beijing', system: '10.0' }, expect: '1.0.0' },
      { rule: 'rules ANDed: comma values are trimmed (" Beijing")', rows: cityAndOs, device: { city: 'Beijing', system: '9.3' }, expect: '1.0.0' },
      { rule: 'rules ANDed: the city alone is not enough', rows: cityAndOs, device: { city: 'Shanghai', system: '10.0.1' }, expect: null },
      { rule: 'rules ANDed: the OS range alone is not enough', rows: cityAndOs, device: { city: 'Hangzhou', system: '10.0' }, expect: null },
      { rule: 'OS range is inclusive at the lower end', rows: cityAndOs, device: { city: 'Shanghai', system: '9.2.1' }, expect: '1.0.0' },
      { rule: 'OS range compares as versions (9.10 is inside 9.2.1-10.0)', rows: cityAndOs, device: { city: 'Shanghai', system: '9.10' }, expect: '1.0.0' },
      { rule: 'OS range: 9.2 is below 9.2.1', rows: cityAndOs, device: { city: 'Shanghai', system: '9.2' }, expect: null },
      { rule: 'exclude: a listed model is left out', rows: rules([{ ruleElement: 'mobileModel', operation: 2, value: 'MI 6, VIVO X5M' }]), device: { model: 'VIVO X5M' }, expect: null },
      { rule: 'exclude: other models pass', rows: rules([{ ruleElement: 'mobileModel', operation: 2, value: 'MI 6, VIVO X5M' }]), device: { model: 'iPhone 6S' }, expect: '1.0.0' },
      { rule: 'include netType', rows: rules([{ ruleElement: 'netType', operation: 1, value: 'WIFI,4G' }]), device: { netType: '4G' }, expect: '1.0.0' },
      { rule: 'include: a device that does not report the fact does not match', rows: rules([{ ruleElement: 'netType', operation: 1, value: 'WIFI' }]), device: {}, expect: null },
      // the guide's spelling (Wi-Fi), the clients' (WIFI), WLAN and Android's getNetworkType() code 3 are one network type
      { rule: 'netType: "Wi-Fi" in the rule matches a device sending WIFI', rows: rules([{ ruleElement: 'netType', operation: 1, value: 'Wi-Fi' }]), device: { netType: 'WIFI' }, expect: '1.0.0' },
      { rule: 'netType: Android\'s code 3 is Wi-Fi', rows: rules([{ ruleElement: 'netType', operation: 1, value: 'Wi-Fi' }]), device: { netType: '3' }, expect: '1.0.0' },
      { rule: 'netType: WLAN is Wi-Fi', rows: rules([{ ruleElement: 'netType', operation: 2, value: 'WLAN' }]), device: { netType: 'wifi' }, expect: null },
      { rule: 'netType: Android\'s code 4 is 4G, not Wi-Fi', rows: rules([{ ruleElement: 'netType', operation: 1, value: 'Wi-Fi' }]), device: { netType: '4' }, expect: null },
      { rule: 'out of range (4): inside is refused', rows: rules([{ ruleElement: 'osVersion', operation: 4, value: '10-11' }]), device: { system: '10.5' }, expect: null },
      { rule: 'out of range (4): outside passes', rows: rules([{ ruleElement: 'osVersion', operation: 4, value: '10-11' }]), device: { system: '9' }, expect: '1.0.0' },
      { rule: 'OS include compares versions ("10" = "10.0.0")', rows: rules([{ ruleElement: 'osVersion', operation: 1, value: '10.0.0, 12' }]), device: { system: '10' }, expect: '1.0.0' },
      // clientVersion (mcube): the installed app's version, compared as a version, so a task can aim at "version 4.0 apps"
      { rule: 'clientVersion range: inside passes ("4.0" in 4.0-4.0.99)', rows: rules([{ ruleElement: 'clientVersion', operation: 3, value: '4.0-4.0.99' }]), device: { client: '4.0' }, expect: '1.0.0' },
      { rule: 'clientVersion range: 4.1 is outside 4.0-4.0.99', rows: rules([{ ruleElement: 'clientVersion', operation: 3, value: '4.0-4.0.99' }]), device: { client: '4.1' }, expect: null },
      { rule: 'clientVersion include compares versions ("4" = "4.0.0")', rows: rules([{ ruleElement: 'clientVersion', operation: 1, value: '4.0.0, 5.0' }]), device: { client: '4' }, expect: '1.0.0' },
      { rule: 'clientVersion exclude leaves a listed version out', rows: rules([{ ruleElement: 'clientVersion', operation: 2, value: '3.9.9' }]), device: { client: '3.9.9' }, expect: null },
      { rule: 'an unreadable rule never matches (fail closed)', rows: rules([{ ruleElement: 'planet', operation: 1, value: 'Mars' }]), device: {}, expect: null },
    ] satisfies Case[];
  })(),

  // -- percentage
  { rule: 'percentage 100 delivers to every user', rows: () => [one(res('1.0.0'), { publish_type: 2, publish_mode: 3, percent: 100 })], device: { userKey: 'x' }, expect: '1.0.0' },
  { rule: 'percentage 0 delivers to nobody', rows: () => [one(res('1.0.0'), { publish_type: 2, publish_mode: 3, percent: 0 })], device: { userKey: 'x' }, expect: null },
  { rule: 'percentage needs a user key', rows: () => [one(res('1.0.0'), { publish_type: 2, publish_mode: 3, percent: 100 })], device: { userKey: '' }, expect: null },

  // -- priority among matching tasks
  {
    rule: 'higher package version wins over task type (gray 1.1 beats official 1.0)',
    rows: () => [one(res('1.0.0'), { publish_type: 3 }), one(res('1.1.0'), { publish_type: 2, publish_mode: 3, percent: 100 })],
    device: {},
    expect: '1.1.0',
  },
  {
    rule: 'only matching tasks are ranked (1.1 for another platform does not hide 1.0)',
    rows: () => [one(res('1.0.0')), one(res('1.1.0', { platform: 'iOS', client_version_min: '1.0.0;' }))],
    device: { platform: 'android' },
    expect: '1.0.0',
  },
  {
    rule: 'versions rank numerically (1.10 above 1.9)',
    rows: () => [one(res('1.9')), one(res('1.10'))],
    device: {},
    expect: '1.10',
  },

  // -- never offer the installed or an older version
  { rule: 'the installed version is not offered again', rows: () => [one(res('1.0.0'))], device: {}, installed: '1.0.0', expect: null },
  { rule: 'equal as versions ("1.0" installed, "1.0.0" released)', rows: () => [one(res('1.0.0'))], device: {}, installed: '1.0', expect: null },
  { rule: 'an older version is never offered', rows: () => [one(res('1.0.0'))], device: {}, installed: '1.2.0', expect: null },
  { rule: 'a newer version is offered', rows: () => [one(res('1.3.0'))], device: {}, installed: '1.2.0', expect: '1.3.0' },
  {
    rule: 'a device on the winning version gets nothing (not a lower one)',
    rows: () => [one(res('1.0.0')), one(res('1.1.0'))],
    device: {},
    installed: '1.1.0',
    expect: null,
  },

  // -- rollback (TaskType 1)
  {
    rule: 'rollback delivers its older version to a device holding a newer one',
    rows: () => [one(res('1.0.0'), { task_type: 1 }), one(res('1.1.0'), { task_status: 2 })],
    device: {},
    installed: '1.1.0',
    expect: '1.0.0',
  },
  {
    rule: 'a releasing rollback outranks the newer version still releasing: devices holding it are rolled back',
    rows: () => [one(res('1.0.0'), { task_type: 1 }), one(res('1.1.0'), { publish_type: 3 })],
    device: {},
    installed: '1.1.0',
    expect: '1.0.0',
  },
  { rule: 'while a rollback releases, a new device gets the rollback version, not the newer one', rows: () => [one(res('1.0.0'), { task_type: 1 }), one(res('1.1.0'), { publish_type: 3 })], device: {}, expect: '1.0.0' },
  {
    rule: 'a gray rollback leaves the devices outside it on the newer version',
    rows: () => [one(res('1.0.0'), { task_type: 1, publish_type: 2, publish_mode: 3, percent: 0 }), one(res('1.1.0'), { publish_type: 3 })],
    device: {},
    installed: '1.1.0',
    expect: null,
  },
  { rule: 'rollback: a device already on that version gets nothing', rows: () => [one(res('1.0.0'), { task_type: 1 })], device: {}, installed: '1.0.0', expect: null },
  { rule: 'rollback: a device on an older version gets it as an update', rows: () => [one(res('1.0.0'), { task_type: 1 })], device: {}, installed: '0.9.0', expect: '1.0.0' },
  {
    rule: 'rollback applies even when a normal task of the same version is ranked first',
    rows: () => [one(res('1.0.0'), { publish_type: 3, task_version: 5 }), one(res('1.0.0', { id: 0 }), { task_type: 1, publish_type: 2, publish_mode: 3, percent: 100 })],
    device: {},
    installed: '1.2.0',
    expect: '1.0.0',
  },
];

describe('delivery rules (table)', () => {
  for (const c of cases) {
    it(c.rule, async () => {
      const rows = c.rows();
      const snap = snapshotOf(rows, c.lists ?? []);
      const got = await decide(snap, device({ now: NOW, ...c.device }), c.installed);
      expect(got.version).toBe(c.expect);
    });
  }
});

describe('priority by task type and age (same version)', () => {
  const r = res('2.0.0');
  const official = () => one(r, { publish_type: 3, task_version: 1 });
  const whitelist = () => one(r, { publish_type: 2, publish_mode: 1, whitelist_ids: '7', task_version: 2 });
  const window = () => one(r, { publish_type: 2, publish_mode: 2, grey_num: 10, grey_endtime: NOW + 3600_000, task_version: 3 });
  const percent = () => one(r, { publish_type: 2, publish_mode: 3, percent: 100, task_version: 4 });
  const lists: Lists = [{ id: 7, type: 'normal', values: ['user-1'] }];

  it('Official > Whitelist gray > Time-window gray', async () => {
    const rows = [window(), whitelist(), official()];
    const snap = snapshotOf(rows, lists);
    expect((await decide(snap, device({ now: NOW }))).taskId).toBe(rows[2]!.task.id);
    const noOfficial = snapshotOf([rows[0]!, rows[1]!], lists);
    expect((await decide(noOfficial, device({ now: NOW }))).taskId).toBe(rows[1]!.task.id);
    const onlyWindow = snapshotOf([rows[0]!], lists);
    expect((await decide(onlyWindow, device({ now: NOW }))).taskId).toBe(rows[0]!.task.id);
  });

  it('percentage ranks with time window: the later of the two wins', async () => {
    const w = window();
    const p = percent(); // created later (task_version 4)
    const snap = snapshotOf([w, p]);
    const port = new MemoryAdmissions(NOW);
    expect((await decide(snap, device({ now: NOW }), undefined, port)).taskId).toBe(p.task.id);
    // the device was served by the percentage task: it used no time-window slot
    expect(port.count(w.task.id)).toBe(0);
    // and the other way round: a time-window task created after the percentage task wins
    const p2 = one(r, { publish_type: 2, publish_mode: 3, percent: 100, task_version: 5 });
    const w2 = one(r, { publish_type: 2, publish_mode: 2, grey_num: 10, grey_endtime: NOW + 3600_000, task_version: 6 });
    const port2 = new MemoryAdmissions(NOW);
    expect((await decide(snapshotOf([p2, w2]), device({ now: NOW }), undefined, port2)).taskId).toBe(w2.task.id);
    expect(port2.count(w2.task.id)).toBe(1);
  });

  it('same type: the latest task prevails', async () => {
    const a = one(r, { publish_type: 3, task_version: 10 });
    const b = one(r, { publish_type: 3, task_version: 20 });
    expect((await decide(snapshotOf([a, b]), device({ now: NOW }))).taskId).toBe(b.task.id);
  });

  it('same type: the latest released task prevails, not the latest created (guide §4.3)', async () => {
    // a was created first but released (0 -> 1) after b was
    const a = one(r, { publish_type: 2, publish_mode: 3, percent: 100, task_version: 10, released_at: 40 });
    const b = one(r, { publish_type: 2, publish_mode: 3, percent: 100, task_version: 20, released_at: 30 });
    expect((await decide(snapshotOf([a, b]), device({ now: NOW }))).taskId).toBe(a.task.id);
    // rows from before release times were kept: the creation time stands in
    const c = one(r, { publish_type: 2, publish_mode: 3, percent: 100, task_version: 50, released_at: null });
    expect((await decide(snapshotOf([a, b, c]), device({ now: NOW }))).taskId).toBe(c.task.id);
  });

  it('one task per device per H5 app, one entry per app', async () => {
    const a = one(res('1.0.0', { h5_id: '70000000' }));
    const a2 = one(res('1.1.0', { h5_id: '70000000' }));
    const b = one(res('3.0.0', { h5_id: '80000000' }));
    const snap = snapshotOf([a, a2, b]);
    expect(snap.appOrder).toEqual(['70000000', '80000000']);
    expect((await decide(snap, device({ now: NOW }), undefined, undefined, '70000000')).version).toBe('1.1.0');
    expect((await decide(snap, device({ now: NOW }), undefined, undefined, '80000000')).version).toBe('3.0.0');
  });
});

describe("the guide's worked example (§4.3): 5.0 package, whitelist tasks A then B for 4.0 clients", () => {
  const pkg = res('5.0', { client_version_min: '4.0;4.0', client_version_max: '4.0;4.0' });
  const lists: Lists = [{ id: 1, type: 'normal', values: ['tester'] }];
  const A = (status = 1) => one(pkg, { id: 501, publish_type: 2, publish_mode: 1, whitelist_ids: '1', task_version: 1000, task_status: status });
  const B = (status = 1) => one(pkg, { id: 502, publish_type: 2, publish_mode: 1, whitelist_ids: '1', task_version: 2000, task_status: status });
  const client4 = device({ client: '4.0', userKey: 'tester', now: NOW });

  it('both releasing: B (the latest) is delivered first', async () => {
    expect((await decide(snapshotOf([A(), B()], lists), client4)).taskId).toBe(502);
  });
  it('B paused: A takes effect', async () => {
    expect((await decide(snapshotOf([A(), B(3)], lists), client4)).taskId).toBe(501);
  });
  it('B ended: A takes effect', async () => {
    expect((await decide(snapshotOf([A(), B(2)], lists), client4)).taskId).toBe(501);
  });
  it('a 4.0.1 client is outside the 4.0 range of both', async () => {
    expect((await decide(snapshotOf([A(), B()], lists), device({ client: '4.0.1', userKey: 'tester', now: NOW }))).version).toBeNull();
  });
});

describe('time-window gray (engine with admissions)', () => {
  const windowRow = (o: Partial<TaskRow> = {}) => one(res('2.0.0', { platform: 'Android', client_version_min: ';1.0.0' }), { publish_type: 2, publish_mode: 2, grey_num: 3, grey_endtime: NOW + 60_000, ...o });

  it('the first GreyNum distinct users are admitted; an admitted user keeps the package', async () => {
    const row = windowRow();
    const snap = snapshotOf([row]);
    const port = new MemoryAdmissions(NOW);
    const got: Array<string | null> = [];
    for (const u of ['u1', 'u2', 'u1', 'u3', 'u4', 'u2', 'u5', 'u3']) got.push((await decide(snap, device({ userKey: u, now: NOW }), undefined, port)).version);
    expect(got).toEqual(['2.0.0', '2.0.0', '2.0.0', '2.0.0', null, '2.0.0', null, '2.0.0']);
    expect(port.count(row.task.id)).toBe(3);
  });

  it('a device rejected for another reason (platform) uses no slot', async () => {
    const row = windowRow({ grey_num: 1 });
    const snap = snapshotOf([row]);
    const port = new MemoryAdmissions(NOW);
    expect((await decide(snap, device({ platform: 'ios', userKey: 'iphone', now: NOW }), undefined, port)).version).toBeNull();
    expect(port.count(row.task.id)).toBe(0);
    expect((await decide(snap, device({ userKey: 'droid', now: NOW }), undefined, port)).version).toBe('2.0.0');
  });

  it('a device that already has the version uses no slot', async () => {
    const row = windowRow({ grey_num: 1 });
    const snap = snapshotOf([row]);
    const port = new MemoryAdmissions(NOW);
    expect((await decide(snap, device({ userKey: 'has-it', now: NOW }), '2.0.0', port)).version).toBeNull();
    expect(port.count(row.task.id)).toBe(0);
  });

  it('a device served by a higher-priority task uses no slot', async () => {
    const w = windowRow({ grey_num: 1 });
    const official = one(res('2.0.0', { id: w.resource.id, platform: 'Android', client_version_min: ';1.0.0' }), { publish_type: 3 });
    const snap = snapshotOf([w, official]);
    const port = new MemoryAdmissions(NOW);
    expect((await decide(snap, device({ userKey: 'a', now: NOW }), undefined, port)).taskId).toBe(official.task.id);
    expect(port.count(w.task.id)).toBe(0);
  });

  it('a full window falls through to a lower-ranked task', async () => {
    const w = windowRow({ grey_num: 1 });
    const old = one(res('1.0.0', { platform: 'Android', client_version_min: ';1.0.0' }), { publish_type: 3 });
    const snap = snapshotOf([w, old]);
    const port = new MemoryAdmissions(NOW);
    expect((await decide(snap, device({ userKey: 'first', now: NOW }), undefined, port)).version).toBe('2.0.0');
    expect((await decide(snap, device({ userKey: 'second', now: NOW }), undefined, port)).version).toBe('1.0.0');
  });

  it('after the end time nobody new is admitted, admitted users keep it', async () => {
    const row = windowRow({ grey_endtime: NOW + 1000 });
    const snap = snapshotOf([row]);
    const port = new MemoryAdmissions(NOW);
    expect((await decide(snap, device({ userKey: 'early', now: NOW }), undefined, port)).version).toBe('2.0.0');
    const late = new MemoryAdmissions(NOW + 2000);
    late.admitted.set(row.task.id, new Set(['early']));
    expect((await decide(snap, device({ userKey: 'late', now: NOW + 2000 }), undefined, late)).version).toBeNull();
    expect((await decide(snap, device({ userKey: 'early', now: NOW + 2000 }), undefined, late)).version).toBe('2.0.0');
  });
});

describe('percentage gray', () => {
  const users = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  const chosen = (snap: Snapshot) => Promise.all(users.map(async (u) => ((await decide(snap, device({ userKey: u, now: NOW }))).version ? u : null))).then((l) => new Set(l.filter(Boolean)));
  const pct = (percent: number, seed = 'seed-1') => snapshotOf([one(res('1.0.0', { id: 900 }), { id: 901, publish_type: 2, publish_mode: 3, percent, seed })]);

  it('about Percent % of users, stable per user and seed', async () => {
    const at30 = await chosen(pct(30));
    expect(at30.size).toBeGreaterThan(2800);
    expect(at30.size).toBeLessThan(3200);
    expect(await chosen(pct(30))).toEqual(at30);
    // the seed is per task: another task at the same percentage picks other users
    expect(await chosen(pct(30, 'seed-2'))).not.toEqual(at30);
  });

  it('raising the percentage only adds users', async () => {
    const at30 = await chosen(pct(30));
    const at60 = await chosen(pct(60));
    for (const u of at30) expect(at60.has(u)).toBe(true);
    expect(at60.size).toBeGreaterThan(at30.size);
  });

  it('another task (seed) picks another set', async () => {
    const a = await chosen(pct(30, 'seed-1'));
    const b = await chosen(pct(30, 'seed-2'));
    const overlap = [...a].filter((u) => b.has(u)).length;
    expect(overlap).toBeLessThan(a.size * 0.5);
  });
});

describe('versions', () => {
  it.each([
    ['4.0', '4.0.0', 0],
    ['10.0.1', '9.2.1', 1],
    ['1.10', '1.9', 1],
    ['1.0.0.1', '1.0.0', 1],
    ['', '0', 0],
    ['2.0-beta', '2.0', 0],
    // the version ends where a suffix starts, dots in the suffix included (as the upgrade check reads it)
    ['4.0.1-rc.2', '4.0.1', 0],
    ['4.0.1+build.7', '4.0.1', 0],
    ['4.0.1_beta.3', '4.0.1', 0],
  ])('%s vs %s', (a, b, sign) => {
    expect(Math.sign(compareVersions(parseVersion(a), parseVersion(b)))).toBe(sign);
  });
});
