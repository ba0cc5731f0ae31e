import { describe, expect, it } from 'vitest';
import { device, resourceRow, snapshotOf, taskRow } from '../../../../../../test/helpers/delivery-fixtures.js';
import { piece, renderAnswer } from '../answer.js';
import type { IncomingMessage } from 'node:http';
import { DeviceRateLimiter } from '../rate-limit.js';
import { fmix32, PackedIdSet } from './id-set.js';
import { bucketFrom, bucketOf, BUCKETS, seedHashOf, selectForApp } from './select.js';
import { parseVersion } from './versions.js';

/** The percentage bucket exactly as DELIVERY-RULES.md defines it (it must never move users). */
function referenceBucket(seed: string, userKey: string): number {
  const s = seed + ':' + userKey;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h) % BUCKETS;
}

describe('percentage buckets', () => {
  it('the per-task seed state gives the same bucket as hashing seed + ":" + user', () => {
    const seeds = ['a1b2c3d4', '100000009', '', 'seed:with:colons', '种子'];
    const users = ['user-1', '', 'u0000001', 'd-17', 'émile', '用户-甲', 'x'.repeat(300)];
    for (const seed of seeds) {
      for (const u of users) {
        expect(bucketOf(seed, u)).toBe(referenceBucket(seed, u));
        expect(bucketFrom(seedHashOf(seed), u)).toBe(referenceBucket(seed, u));
      }
    }
  });

  it('plans carry the state of their seed', () => {
    const r = resourceRow({ h5_version: '1.0' });
    const snap = snapshotOf([{ task: taskRow(r, { publish_type: 2, publish_mode: 3, percent: 50, seed: 'abc' }), resource: r }]);
    expect(snap.apps.get(r.h5_id)![0]!.seedHash).toBe(seedHashOf('abc'));
  });
});

describe('packed id set lookups without encoding (ASCII ids)', () => {
  it('agrees with a Set for ASCII, non-ASCII and long ids, present or not', () => {
    const ids = [
      ...Array.from({ length: 5000 }, (_, i) => `u${String(i).padStart(7, '0')}`),
      'émile',
      '用户-甲',
      'a\u007fb',
      'z'.repeat(4000),
      'y'.repeat(4092),
      '',
    ];
    const packed = PackedIdSet.of(ids);
    const set = new Set(ids.filter((id) => Buffer.byteLength(id) < 4093));
    const probes = [...ids, 'u0005000', 'u000000', 'emile', 'émilé', '用户-乙', 'a\u0080b', 'z'.repeat(3999), 'z'.repeat(4001), 'y'.repeat(4093), 'U0000001'];
    for (const id of probes) expect(packed.has(id), id.slice(0, 20)).toBe(set.has(id));
  });
});

describe('packed id set built in slices (finishAsync)', () => {
  it('holds exactly what finish() holds, hands back between slices, and grows past a size guessed too small', async () => {
    const ids = Array.from({ length: 300_000 }, (_, i) => `user-${i}${i % 7 === 0 ? '-with-a-longer-tail' : ''}`);
    ids.push('user-1', 'émile');
    const whole = PackedIdSet.builder();
    // far too small a guess: the arena and the offsets must grow
    const sliced = PackedIdSet.builder({ count: 10, bytes: 10 });
    for (const id of ids) {
      whole.add(id);
      sliced.add(id);
    }
    let pauses = 0;
    const a = whole.finish();
    const b = await sliced.finishAsync(async () => {
      pauses++;
      await new Promise((r) => setImmediate(r));
    });
    expect(pauses).toBeGreaterThan(0);
    expect(b.size).toBe(300_001);
    expect(a.size).toBe(b.size);
    for (const id of ['user-0', 'user-7-with-a-longer-tail', 'user-7', 'user-299999', 'émile', 'user-300000', 'emile', '']) expect(b.has(id), id).toBe(a.has(id));
    expect(b.has('user-7-with-a-longer-tail') && !b.has('user-7') && b.has('user-8')).toBe(true);
  });
});

describe('client ranges shared between tasks', () => {
  it('the per-range memo answers for the version asked, also when versions alternate', () => {
    const low = resourceRow({ h5_version: '1.0', client_version_min: '1.0;1.0', client_version_max: '2.0;2.0' });
    const high = resourceRow({ h5_version: '2.0', client_version_min: '2.5;2.5' });
    const high2 = resourceRow({ h5_version: '1.5', client_version_min: '2.5;2.5' });
    const snap = snapshotOf([
      { task: taskRow(low), resource: low },
      { task: taskRow(high), resource: high },
      { task: taskRow(high2, { task_status: 1 }), resource: high2 },
    ]);
    const plans = snap.apps.get(low.h5_id)!;
    // the two resources with the same bounds share one range object
    const h = plans.find((p) => p.versionText === '2.0')!;
    const h2 = plans.find((p) => p.versionText === '1.5')!;
    expect(h.android).toBe(h2.android);
    const v15 = parseVersion('1.5');
    const v30 = parseVersion('3.0');
    const v22 = parseVersion('2.2');
    const pick = (client: readonly number[]) => {
      const d = { ...device(), client };
      const r = selectForApp(plans, d, null, '', () => 'rejected');
      return r.kind === 'deliver' ? r.task.versionText : null;
    };
    for (let i = 0; i < 3; i++) {
      expect(pick(v15)).toBe('1.0');
      expect(pick(v30)).toBe('2.0');
      expect(pick(v22)).toBeNull();
      expect(pick(parseVersion('3.0'))).toBe('2.0');
    }
  });
});

describe('answers', () => {
  it('the byte length is the UTF-8 length of the text, with non-ASCII entries and rollbacks', () => {
    const head = piece('{"config":{},"data":[');
    const entries = [{ entry: piece('{"name":"离线包","version":"1.0"}') }, { entry: piece('{"name":"émile"}') }];
    for (const discard of [[], [['h5-é', '2.0 beta'] as const]]) {
      const a = renderAnswer(head, entries, discard);
      expect(a.bytes).toBe(Buffer.byteLength(a.text));
      const body = JSON.parse(a.text);
      expect(body.data).toHaveLength(2);
      expect(body.resultCode).toBe(100);
      expect(body.discardData).toEqual(discard.length ? { 'h5-é': ['2.0 beta'] } : {});
    }
    expect(JSON.parse(renderAnswer(head, [], []).text).data).toEqual([]);
  });
});

describe('device rate limit', () => {
  it('counts per device within an app/workspace, in a one-minute window', () => {
    let now = 60_000 * 1000;
    const limit = new DeviceRateLimiter(2, () => now);
    expect([limit.allow('app\u0000ws', 'u1'), limit.allow('app\u0000ws', 'u1'), limit.allow('app\u0000ws', 'u1')]).toEqual([true, true, false]);
    expect(limit.allow('app\u0000ws', 'u2')).toBe(true);
    expect(limit.allow('app\u0000other', 'u1')).toBe(true);
    now += 59_999;
    expect(limit.allow('app\u0000ws', 'u1')).toBe(false);
    now += 1;
    expect(limit.allow('app\u0000ws', 'u1')).toBe(true);
    expect(new DeviceRateLimiter(0, () => now).allow('a', 'b')).toBe(true);
  });

  const fakeReq = (remoteAddress: string, xff?: string) => ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

  it('a device without ids counts under its address; behind trusted proxies that is the X-Forwarded-For entry they wrote', () => {
    const now = 60_000 * 1000;
    const direct = new DeviceRateLimiter({ perDevicePerMin: 1 }, () => now);
    expect(direct.addressOf(fakeReq('10.0.0.1', '1.2.3.4'))).toBe('10.0.0.1');
    expect([direct.allow('s', '', fakeReq('10.0.0.1')), direct.allow('s', '', fakeReq('10.0.0.1')), direct.allow('s', '', fakeReq('10.0.0.2'))]).toEqual([true, false, true]);
    const behind = new DeviceRateLimiter({ perDevicePerMin: 1, trustProxyHops: 1 }, () => now);
    // the client wrote "6.6.6.6"; the balancer appended the address it saw
    expect(behind.addressOf(fakeReq('10.0.0.9', '6.6.6.6, 1.2.3.4'))).toBe('1.2.3.4');
    expect(behind.addressOf(fakeReq('10.0.0.9', '1.2.3.4'))).toBe('1.2.3.4');
    expect(behind.addressOf(fakeReq('10.0.0.9'))).toBe('10.0.0.9');
    expect(new DeviceRateLimiter({ perDevicePerMin: 1, trustProxyHops: 2 }, () => now).addressOf(fakeReq('10.0.0.9', '6.6.6.6, 1.2.3.4, 10.0.0.8'))).toBe('1.2.3.4');
    // two anonymous devices behind one balancer no longer share a counter
    expect([behind.allow('s', '', fakeReq('10.0.0.9', '1.1.1.1')), behind.allow('s', '', fakeReq('10.0.0.9', '2.2.2.2'))]).toEqual([true, true]);
  });

  it('a client inventing a new user id per request: past the device table cap it is counted under its address', () => {
    const now = 60_000 * 1000;
    const limit = new DeviceRateLimiter({ perDevicePerMin: 3, maxDevices: 10 }, () => now);
    const from = fakeReq('9.9.9.9');
    const answers = Array.from({ length: 20 }, (_, i) => limit.allow('s', `rotating-${i}`, from));
    expect(answers.filter(Boolean)).toHaveLength(10 + 3);
    // devices counted before the cap keep their own counters; another address is not affected
    expect(limit.allow('s', 'rotating-0', from)).toBe(true);
    expect(limit.allow('s', 'fresh', fakeReq('8.8.8.8'))).toBe(true);
  });

  it("one workspace's invented ids fill only its own table: another workspace's new devices keep their own counters", () => {
    const now = 60_000 * 1000;
    const limit = new DeviceRateLimiter({ perDevicePerMin: 1, maxDevices: 10 }, () => now);
    const balancer = fakeReq('10.0.0.1');
    for (let i = 0; i < 50; i++) limit.allow('tenant-b', `invented-${i}`, balancer);
    // behind one balancer address, each of A's devices makes one check: none is refused
    expect(Array.from({ length: 9 }, (_, i) => limit.allow('tenant-a', `device-${i}`, balancer))).toEqual(Array(9).fill(true));
    // B's 11 entries (its 10 ids and the address it overflows to) and A's 9 reach the node-wide bound, twice the
    // table cap: a third workspace's new devices now share an address budget
    expect([limit.allow('tenant-c', 'one', balancer), limit.allow('tenant-c', 'two', balancer)]).toEqual([true, false]);
  });

  it('the per-address limit (off by default) holds whatever ids a client sends', () => {
    const now = 60_000 * 1000;
    const limit = new DeviceRateLimiter({ perDevicePerMin: 100, perAddressPerMin: 5 }, () => now);
    const from = fakeReq('9.9.9.9');
    expect(Array.from({ length: 8 }, (_, i) => limit.allow('s', `u-${i}`, from))).toEqual([true, true, true, true, true, false, false, false]);
    expect(limit.allow('s', 'u-0', fakeReq('8.8.8.8'))).toBe(true);
  });
});
