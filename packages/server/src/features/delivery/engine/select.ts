import type { ClientRange, CompiledWhitelist, TaskPlan } from '../snapshot.js';
import { fmix32 } from './id-set.js';
import { matchRuleSet, type DeviceFacts } from './rules.js';
import { compareVersions, inVersionRange, type Version } from './versions.js';

/** One device check, parsed once per request. */
export interface DeviceCheck {
  platform: 'android' | 'ios';
  client: Version;
  /** userId, else deviceId; '' when the device sent neither: who is counted (time windows) and bucketed (percentage) */
  userKey: string;
  /** userId only ('' when not sent): whitelists list user ids (guide §4.2.2: the app returns "a unique identity" in its userId method), so a device id never matches one */
  userId: string;
  facts: DeviceFacts;
  now: number;
}

/** What the per-node admission cache knows about a user and a time-window task. */
export type Admission = 'admitted' | 'rejected' | 'unknown';

export type AppDecision =
  | { kind: 'none' }
  /** discard: the newer installed version a rollback replaces, else null */
  | { kind: 'deliver'; task: TaskPlan; discard: string | null }
  /** the winner is a time-window task this node has not decided for this user yet */
  | { kind: 'admit'; task: TaskPlan };

export const BUCKETS = 10_000;

/**
 * The percentage bucket of a user for a task: 32-bit FNV-1a over the UTF-16
 * code units of seed + ":" + userKey, finished with murmur3's fmix32, modulo
 * 10,000. Stable across nodes, restarts and versions (changing it would move
 * users); a task's seed never changes, so raising its percentage only adds
 * buckets, never moves a user out.
 */
export function bucketOf(seed: string, userKey: string): number {
  return bucketFrom(seedHashOf(seed), userKey);
}

/** The FNV-1a state after `seed + ":"`, computed once per task (snapshot.ts). */
export function seedHashOf(seed: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 58 /* : */, 0x01000193);
}

/** bucketOf, continuing from a task's seedHashOf. */
export function bucketFrom(seedHash: number, userKey: string): number {
  let h = seedHash;
  for (let i = 0; i < userKey.length; i++) h = Math.imul(h ^ userKey.charCodeAt(i), 0x01000193);
  return fmix32(h) % BUCKETS;
}

/** Whether the user is on a whitelist; memoised per list for the apps of one request. */
export function onList(wl: CompiledWhitelist, userKey: string): boolean {
  if (wl.memoKey === userKey) return wl.memoHit;
  let hit = false;
  if (wl.ids) hit = wl.ids.has(userKey);
  else {
    if (wl.any) hit = wl.any.test(userKey);
    for (let i = 0; i < wl.rest.length && !hit; i++) hit = wl.rest[i]!.test(userKey);
  }
  wl.memoKey = userKey;
  wl.memoHit = hit;
  return hit;
}

/**
 * Everything except the time-window admission: platform, client range,
 * whitelist or percentage, advanced rules. Cheapest first; whitelist and
 * rule answers are memoised for the request, as several apps share them.
 */
export function matchesTask(t: TaskPlan, d: DeviceCheck): boolean {
  const range = d.platform === 'android' ? t.android : t.ios;
  if (!range || !inClientRange(range, d.client)) return false;
  if (!passesGate(t, d)) return false;
  return matchRuleSet(t.rules, d.facts);
}

function inClientRange(range: ClientRange, client: Version): boolean {
  if (range.memoClient === client) return range.memoHit;
  const hit = inVersionRange(client, range.min, range.max);
  range.memoClient = client;
  range.memoHit = hit;
  return hit;
}

function passesGate(t: TaskPlan, d: DeviceCheck): boolean {
  switch (t.gate) {
    case 'all':
      return true;
    case 'whitelist': {
      if (d.userId === '') return false;
      for (let i = 0; i < t.whitelists.length; i++) if (onList(t.whitelists[i]!, d.userId)) return true;
      return false;
    }
    case 'window':
      // the end time is checked with the admission: admitted users keep the package after it
      return d.userKey !== '';
    case 'percent':
      return d.userKey !== '' && t.percentBuckets > 0 && (t.percentBuckets >= BUCKETS || bucketFrom(t.seedHash, d.userKey) < t.percentBuckets);
    case 'none':
      return false;
  }
}

/**
 * Picks the one task that serves this device for one H5 app. `plans` are
 * already ranked (snapshot.ts: higher version, then Official > Whitelist gray
 * > Time-window/percentage gray, then the latest task), so the first task the
 * device matches wins. `installed` is the version the device holds (null:
 * none). Pure: the admission cache is asked through `admission`.
 */
export function selectForApp(
  plans: readonly TaskPlan[],
  d: DeviceCheck,
  installed: Version | null,
  installedText: string,
  admission: (task: TaskPlan, userKey: string) => Admission,
): AppDecision {
  for (let i = 0; i < plans.length; i++) {
    const t = plans[i]!;
    if (!matchesTask(t, d)) continue;
    const cmp = installed ? compareVersions(t.version, installed) : 1;
    // The device already has the winning version: nothing to offer.
    if (cmp === 0) return NONE;
    // An older version reaches a device only through a rollback task; a normal
    // task for an older version cannot serve it, so lower-ranked tasks (a
    // rollback) still get their turn.
    if (cmp < 0 && !t.rollback) continue;
    if (t.gate === 'window') {
      const a = admission(t, d.userKey);
      if (a === 'rejected') continue;
      // after the end time the admission cache loads the final set instead of admitting
      if (a === 'unknown') return { kind: 'admit', task: t };
    }
    return { kind: 'deliver', task: t, discard: cmp < 0 ? installedText : null };
  }
  return NONE;
}

const NONE: AppDecision = { kind: 'none' };
