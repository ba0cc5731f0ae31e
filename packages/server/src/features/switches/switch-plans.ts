import type { Deps } from '../../core/registry.js';
import { handBack } from '../../core/hand-back.js';
import { num } from '../../db/database.js';
import { piece, type Piece } from '../delivery/answer.js';
import { compileRules, ruleSetOf, type RuleSet } from '../delivery/engine/rules.js';
import { seedHashOf } from '../delivery/engine/select.js';
import { parseVersion } from '../delivery/engine/versions.js';
import { loadWhitelists, readReleasing, readStamp, type LoaderCaches } from '../delivery/snapshot-loader.js';
import { OPEN_RANGE, whitelistIdsOf, type Gate, type TaskPlan } from '../delivery/snapshot.js';

/** The enabled switch keys of one app/workspace, compiled for the pull endpoint. */
export interface SwitchPlans {
  stamp: number;
  refreshAt: number;
  /** by key, inserted in key order: the values as engine plans, in their order (the first a device matches wins) */
  byKey: Map<string, TaskPlan[]>;
}

const PAGE = 1000;
const SLICE = 500;
const NO_VERSION = parseVersion('0');

/**
 * Reads the values of the enabled keys (stamp first, as the other device
 * plans: a change committing meanwhile moves the stamp past it) and compiles
 * each into a TaskPlan the engine's matchesTask evaluates: platform, whitelist
 * or percentage, advanced rules. Each value's answer piece is `"key":"value"`.
 */
export async function loadSwitchPlans(deps: Deps, appId: string, workspaceId: string, caches: Pick<LoaderCaches, 'whitelists'>): Promise<SwitchPlans> {
  const { knex } = deps.db;
  const { stamp, rows } = await readReleasing(
    () => readStamp(deps, appId, workspaceId),
    (after, size): Promise<Array<{ id: unknown } & Record<string, any>>> =>
      knex('switch_config_values as v')
        .join('switch_configs as c', 'c.id', 'v.config_id')
        .where({ 'v.app_id': appId, 'v.workspace_id': workspaceId, 'c.enabled': 1 })
        .andWhere('v.id', '>', after)
        .orderBy('v.id')
        .limit(size)
        .select('v.id', 'c.config_key', 'v.position', 'v.value', 'v.platform', 'v.delivery', 'v.whitelist_ids', 'v.percent_buckets', 'v.rules'),
    PAGE,
  );
  const wanted = new Set<number>();
  for (const r of rows) if (r.delivery === 'WHITELIST') for (const id of whitelistIdsOf(String(r.whitelist_ids))) wanted.add(id);
  const lists = await loadWhitelists(deps, appId, workspaceId, wanted, caches, (msg, f) => deps.log.warn(msg, f));

  const ruleSets = new Map<string, RuleSet>();
  const byKey = new Map<string, Array<{ position: number; plan: TaskPlan }>>();
  for (let i = 0; i < rows.length; i++) {
    if (i % SLICE === 0) await handBack();
    const r = rows[i]!;
    const key = String(r.config_key);
    const position = num(r.position);
    const ruleText = String(r.rules ?? '').trim();
    let rules = ruleSets.get(ruleText);
    if (!rules) ruleSets.set(ruleText, (rules = ruleSetOf(compileRules(ruleText))));
    const gate: Gate = r.delivery === 'WHITELIST' ? 'whitelist' : r.delivery === 'PERCENT' ? 'percent' : 'all';
    // each value its own seed: raising its percentage only adds users, and values of one key bucket independently
    const seed = `switch:${key}#${position}`;
    const entry: Piece = piece(`${JSON.stringify(key)}:${JSON.stringify(String(r.value))}`);
    const plan: TaskPlan = {
      id: num(r.id),
      h5Id: key,
      resourceId: 0,
      version: NO_VERSION,
      versionText: '',
      tier: 0,
      rollback: false,
      gate,
      android: r.platform === 'IOS' ? null : OPEN_RANGE,
      ios: r.platform === 'ANDROID' ? null : OPEN_RANGE,
      rules,
      whitelists: gate === 'whitelist' ? whitelistIdsOf(String(r.whitelist_ids)).flatMap((id) => (lists.has(id) ? [lists.get(id)!] : [])) : [],
      endTime: null,
      greyNum: 0,
      percentBuckets: gate === 'percent' ? num(r.percent_buckets) : 0,
      seed,
      seedHash: seedHashOf(seed),
      releasedAt: 0,
      entry,
    };
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push({ position, plan });
  }
  const ordered = new Map<string, TaskPlan[]>();
  for (const key of [...byKey.keys()].sort()) ordered.set(key, byKey.get(key)!.sort((a, b) => a.position - b.position).map((x) => x.plan));
  return { stamp, refreshAt: Infinity, byKey: ordered };
}
