import { answerHead, entryJson, piece, type Piece } from './answer.js';
import { idSetOf, OverlayIdSet, PackedIdSet, type IdSet } from './engine/id-set.js';
import { compileRules, ruleSetOf, type RuleSet } from './engine/rules.js';
import { seedHashOf } from './engine/select.js';
import { compareVersions, parseVersion, type Version } from './engine/versions.js';
import { compileWhitelistRegex, runsInLinearTime } from '../whitelists/index.js';

/** nebula_tasks columns the engine reads (write-side contract, see the Nebula feature). */
export interface TaskRow {
  id: number;
  h5_id: string;
  /** 2 gray | 3 official */
  publish_type: number;
  /** 1 whitelist | 2 time window | 3 percentage | 4 full */
  publish_mode: number;
  /** 0 to be released | 1 releasing | 2 finished | 3 paused */
  task_status: number;
  /** 0 normal | 1 rollback (its resource is the older version to deliver) */
  task_type: number;
  grey_endtime: number | null;
  grey_num: number;
  grey_admitted: number;
  grey_config_info: string;
  whitelist_ids: string;
  percent: number;
  seed: string;
  task_version: number;
  /** when the task was released (0 -> 1, or created releasing); null on rows from before migration 004 */
  released_at?: number | null;
}

/** nebula_resources columns the engine and the answer read. */
export interface ResourceRow {
  id: number;
  h5_id: string;
  h5_name: string;
  h5_version: string;
  platform: string;
  client_version_min: string;
  client_version_max: string;
  amr_key: string;
  /** folder of the unpacked copy ('' or absent: none) */
  fallback_key?: string;
  /** global packages: h5.json's sample file URL ('' or absent: none) */
  global_pack_url?: string;
  md5: string;
  file_size: number;
  main_url: string;
  vhost: string;
  auto_install: number;
  install_type: number;
  extend_info: string;
  sub_url: string;
  resource_type: number;
}

export interface CompiledWhitelist {
  id: number;
  /** normal list: exact, case-sensitive ids; null for a regular-expression list */
  ids: IdSet | null;
  /** regular-expression list: each anchored to the whole id */
  regexes: readonly RegExp[];
  /**
   * the expressions that can run on V8's linear-time engine as one anchored alternation (one match instead
   * of up to 20), when there are several; null otherwise
   */
  any: RegExp | null;
  /** the expressions `any` does not hold, tested one by one */
  rest: readonly RegExp[];
  /** single-entry memo: the engine asks a list about the same user for every app of one request */
  memoKey: string | null;
  memoHit: boolean;
}

export interface ClientRange {
  min: Version | null;
  max: Version | null;
  /** single-entry memo (ranges are shared by every task with the same bounds): the client version last asked about, and the answer */
  memoClient: Version | null;
  memoHit: boolean;
}

/** No client range: every client of the platform (upgrade packages, switch values); shared, its memo always hits. */
export const OPEN_RANGE: ClientRange = { min: null, max: null, memoClient: null, memoHit: false };

export type Gate = 'all' | 'whitelist' | 'window' | 'percent' | 'none';

/** One releasing task, compiled for the hot path. */
export interface TaskPlan {
  id: number;
  h5Id: string;
  resourceId: number;
  version: Version;
  versionText: string;
  /** 3 official, 2 whitelist gray, 1 time-window or percentage gray */
  tier: number;
  rollback: boolean;
  gate: Gate;
  /** null: the resource does not target that platform */
  android: ClientRange | null;
  ios: ClientRange | null;
  rules: RuleSet;
  whitelists: CompiledWhitelist[];
  endTime: number | null;
  greyNum: number;
  /** percent * 100, compared with the user's bucket out of 10,000 */
  percentBuckets: number;
  seed: string;
  /** FNV-1a state after `seed + ":"` (bucketOf continues from it with the user key) */
  seedHash: number;
  /** release time (else creation time): among tasks of one type for one version the latest released prevails (guide §4.3) */
  releasedAt: number;
  /** the pre-serialised h5.json app object of the task's resource, with its UTF-8 length (answers are assembled from these) */
  entry: Piece;
}

export interface Snapshot {
  appId: string;
  workspaceId: string;
  /** change stamp read before the rows: a later change always moves past it */
  stamp: number;
  builtAt: number;
  /** H5 app id -> releasing tasks, best first */
  apps: Map<string, TaskPlan[]>;
  /** H5 app ids in ascending order, for `nebula-*-all` */
  appOrder: string[];
  /**
   * pre-serialised start of every answer: `{"config":{},"data":[`. A package's asyncReqRate paces the checks
   * of that app only, from its extend_info.launchParams (h5-json.ts); a global rate is the client's own setting.
   */
  head: Piece;
  /** time-window tasks, for the admission cache */
  windowTasks: TaskPlan[];
  /** H5 apps deleted with DeleteMcubeNebulaApp that release nothing now: a device holding one is told to remove it */
  removed: ReadonlySet<string>;
}

export interface SnapshotInput {
  appId: string;
  workspaceId: string;
  stamp: number;
  builtAt: number;
  rows: Array<{ task: TaskRow; resource: ResourceRow }>;
  whitelists: ReadonlyMap<number, CompiledWhitelist>;
  /** device download address of an .amr, or null when it cannot be served now */
  packageUrl(amrKey: string): string | null;
  /** fallback_base_url of a package's unpacked copy (folder '' when it has none; '' when it cannot be addressed now) */
  fallbackUrl?(folder: string): string;
  /** the workspace's vhost domain (CreateMcubeVhost), used when a resource has none */
  vhostDomain: string;
  /** reports tasks left out or rules that can never match */
  warn?(msg: string, fields: Record<string, unknown>): void;
  /** H5 apps deleted in this workspace (removed_h5_apps) */
  removedApps?: readonly string[];
}

/** Compiles one whitelist. Normal ids are used as stored (trimmed on write); a bad expression is skipped. */
export function compileWhitelist(id: number, type: string, values: Iterable<string> | IdSet, warn?: SnapshotInput['warn']): CompiledWhitelist {
  if (type === 'regex') {
    const sources: string[] = [];
    const regexes: RegExp[] = [];
    for (const v of values as Iterable<string>) {
      try {
        regexes.push(compileWhitelistRegex(v));
        sources.push(v);
      } catch (err) {
        warn?.('whitelist expression skipped', { whitelistId: id, error: (err as Error).message });
      }
    }
    // Only expressions V8 can run in linear time join the alternation: with one that cannot (a count above 16)
    // the whole alternation could not fall back to the linear engine, and an expression such as (?:a|a)*,
    // harmless alone, would backtrack exponentially on a device's id and hold the event loop for hours.
    const linear = sources.filter((x) => runsInLinearTime(x));
    let any: RegExp | null = null;
    if (linear.length > 1) {
      const joined = linear.map((x) => `(?:${x})`).join('|');
      try {
        // the same named group in two expressions does not compile: then they are tested one by one
        if (runsInLinearTime(joined)) any = compileWhitelistRegex(joined);
      } catch {
        any = null;
      }
    }
    const rest = any ? regexes.filter((_, i) => !linear.includes(sources[i]!)) : regexes;
    return { id, ids: null, regexes, any, rest, memoKey: null, memoHit: false };
  }
  const ids = values instanceof PackedIdSet || values instanceof OverlayIdSet ? values : idSetOf(values as Iterable<string>);
  return { id, ids, regexes: [], any: null, rest: [], memoKey: null, memoHit: false };
}

/** Whitelist ids of a task ("3,5"); non-numeric pieces are ignored. */
export function whitelistIdsOf(text: string): number[] {
  const out: number[] = [];
  for (const p of (text ?? '').split(',')) {
    const n = Number(p.trim());
    if (p.trim() !== '' && Number.isInteger(n) && n > 0) out.push(n);
  }
  return out;
}

/**
 * Builds the in-memory answer plan of one app/workspace from plain rows. Pure:
 * the loader (snapshot-loader.ts) fetches rows, whitelists and URLs; tests
 * feed rows directly.
 */
export function buildSnapshot(input: SnapshotInput): Snapshot {
  const b = snapshotBuilder(input);
  for (const row of input.rows) b.add(row);
  return b.done();
}

/**
 * buildSnapshot a row at a time (input.rows is not read), so that the loader
 * can hand the event loop back between slices: thousands of tasks take
 * longer than a device check should ever wait.
 */
export function snapshotBuilder(input: Omit<SnapshotInput, 'rows'>): { add(row: SnapshotInput['rows'][number]): void; done(): Snapshot } {
  const apps = new Map<string, TaskPlan[]>();
  const windowTasks: TaskPlan[] = [];
  // one serialised entry per resource, shared by its tasks
  const entries = new Map<number, Piece | null>();
  const ruleSets = new Map<string, RuleSet>();
  const ranges = new Map<string, ClientRange>();
  return {
    add({ task, resource }) {
      if (task.task_status !== 1) return;
      let entry = entries.get(resource.id);
      if (entry === undefined) {
        const url = input.packageUrl(resource.amr_key);
        const text = url === null ? null : entryJson(resource, url, input.vhostDomain, input.fallbackUrl?.(resource.fallback_key ?? '') ?? '');
        entry = text === null ? null : piece(text);
        entries.set(resource.id, entry);
        if (url === null) input.warn?.('resource has no download address; its tasks deliver nothing', { resourceId: resource.id, h5Id: resource.h5_id });
      }
      if (entry === null) return;
      const plan = compileTask(task, resource, entry, input, ruleSets, ranges);
      const list = apps.get(plan.h5Id);
      if (list) list.push(plan);
      else apps.set(plan.h5Id, [plan]);
      if (plan.gate === 'window') windowTasks.push(plan);
    },
    done() {
      for (const list of apps.values()) list.sort(byPriority);
      return {
        appId: input.appId,
        workspaceId: input.workspaceId,
        stamp: input.stamp,
        builtAt: input.builtAt,
        apps,
        appOrder: [...apps.keys()].sort(),
        head: answerHead('{}'),
        windowTasks,
        // an H5 id with a releasing task again is delivered, never removed
        removed: new Set((input.removedApps ?? []).filter((id) => !apps.has(id))),
      };
    },
  };
}

/**
 * Rollback tasks first (the guide's "realtime rollback ... revert the package
 * to previous version" happens during a release: ranked by version, the newer
 * version's release would hide it from the very devices it is for), then
 * higher package version, then Official > Whitelist gray > Time-window/percentage
 * gray, then the latest released task.
 */
export function byPriority(a: TaskPlan, b: TaskPlan): number {
  return Number(b.rollback) - Number(a.rollback) || compareVersions(b.version, a.version) || b.tier - a.tier || b.releasedAt - a.releasedAt || b.id - a.id;
}

function compileTask(task: TaskRow, resource: ResourceRow, entry: Piece, input: Omit<SnapshotInput, 'rows'>, ruleSets: Map<string, RuleSet>, ranges: Map<string, ClientRange>): TaskPlan {
  const gate = gateOf(task);
  const tier = task.publish_type === 3 ? 3 : gate === 'whitelist' ? 2 : 1;
  const ruleText = (task.grey_config_info ?? '').trim();
  let rules = ruleSets.get(ruleText);
  if (!rules) {
    const compiled = compileRules(ruleText);
    for (const r of compiled) if (r.kind === 'never') input.warn?.('advanced rule never matches', { taskId: task.id, why: r.why });
    rules = ruleSetOf(compiled);
    ruleSets.set(ruleText, rules);
  }
  const whitelists: CompiledWhitelist[] = [];
  if (gate === 'whitelist') {
    for (const id of whitelistIdsOf(task.whitelist_ids)) {
      const wl = input.whitelists.get(id);
      if (wl) whitelists.push(wl);
    }
  }
  const platform = resource.platform.toLowerCase();
  const [iosMin, androidMin, perPlatformMin] = splitPlatforms(resource.client_version_min);
  const [iosMax, androidMax] = splitPlatforms(resource.client_version_max);
  const range = (on: boolean, min: string, max: string): ClientRange | null => {
    if (!on) return null;
    // "1.0.0;" targets iOS only: an empty minimum of one platform in the "ios;android" form leaves it out
    if (perPlatformMin && min === '') return null;
    // one object per distinct pair of bounds, so its memo serves every task that has them
    const k = min + '\u0000' + max;
    let r = ranges.get(k);
    if (!r) ranges.set(k, (r = { min: min === '' ? null : parseVersion(min), max: max === '' ? null : parseVersion(max), memoClient: null, memoHit: false }));
    return r;
  };
  const seed = task.seed || String(task.id);
  return {
    id: task.id,
    h5Id: task.h5_id || resource.h5_id,
    resourceId: resource.id,
    version: parseVersion(resource.h5_version),
    versionText: resource.h5_version,
    tier,
    rollback: task.task_type === 1,
    gate,
    android: range(platform === 'all' || platform === 'android', androidMin, androidMax),
    ios: range(platform === 'all' || platform === 'ios', iosMin, iosMax),
    rules,
    whitelists,
    endTime: task.grey_endtime ? task.grey_endtime : null,
    greyNum: task.grey_num,
    percentBuckets: Math.max(0, Math.min(100, task.percent)) * 100,
    seed,
    seedHash: seedHashOf(seed),
    releasedAt: task.released_at ?? task.task_version,
    entry,
  };
}

function gateOf(task: TaskRow): Gate {
  if (task.publish_type === 3) return 'all';
  if (task.publish_type !== 2) return 'none';
  switch (task.publish_mode) {
    case 1:
      return 'whitelist';
    case 2:
      return 'window';
    case 3:
      return 'percent';
    case 4:
      return 'all';
    default:
      return 'none';
  }
}

/** "ios;android" -> [ios, android, true]; a value without ";" applies to both platforms. */
function splitPlatforms(text: string): [string, string, boolean] {
  const t = text ?? '';
  const semi = t.indexOf(';');
  if (semi < 0) return [t.trim(), t.trim(), false];
  return [t.slice(0, semi).trim(), t.slice(semi + 1).trim(), true];
}
