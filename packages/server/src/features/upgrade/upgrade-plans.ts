import { downloadWindow } from '../../core/blob-store.js';
import { handBack } from '../../core/hand-back.js';
import type { Deps } from '../../core/registry.js';
import { num } from '../../db/database.js';
import { AdmissionCache } from '../delivery/admissions.js';
import { piece } from '../delivery/answer.js';
import { compileRules, ruleSetOf, type RuleSet } from '../delivery/engine/rules.js';
import { parseVersion } from '../delivery/engine/versions.js';
import { loadWhitelists, readReleasing, readStamp, type LoaderCaches } from '../delivery/snapshot-loader.js';
import { byPriority, OPEN_RANGE, whitelistIdsOf, type Gate, type TaskPlan } from '../delivery/snapshot.js';
import { downloadGateUrl } from './download-gate.js';
import { UPGRADE_TYPE } from './rules/task-fields.js';

/** Days a single-reminder prompt stays silent after the user dismisses it (guide §4.2.2: 3 by default; the client may change it). */
export const DEFAULT_SILENT_DAYS = 3;

/** The releasing upgrade tasks of one app/workspace, compiled for the delivery engine, best first per platform. */
export interface UpgradePlans {
  stamp: number;
  /** when the signed download addresses should be renewed */
  refreshAt: number;
  android: TaskPlan[];
  /** iOS installs from the App Store: App Store packages and TestFlight invitations (gray verification before the App Store) */
  ios: TaskPlan[];
  /** iOS installs of the enterprise-distributed build: enterprise packages only (guide §4.4: each channel gets its own prompts) */
  iosEnterprise: TaskPlan[];
}

interface Row {
  id: number;
  publish_type: number;
  publish_mode: number;
  task_status: number;
  upgrade_type: number;
  grey_endtime: number | null;
  grey_num: number;
  grey_admitted: number;
  grey_config_info: string;
  whitelist_ids: string;
  upgrade_content: string;
  created_at: number;
  package_id: number;
  platform: string;
  package_type: string;
  app_version: string;
  file_key: string;
  md5: string;
  file_size: number;
  download_url: string;
  appstore_url: string;
  need_check: number;
  verification_code: string;
  package_created_at: number;
  valid_days: number;
}

const DAY_MS = 86_400_000;
/** Releasing tasks read per query. */
const TASK_PAGE = 500;
/** Tasks compiled between two turns of the event loop. */
const PLAN_SLICE = 250;

function gateOf(r: Row): Gate {
  if (r.publish_type === 3) return 'all';
  if (r.publish_type === 2 && r.publish_mode === 1) return 'whitelist';
  if (r.publish_type === 2 && r.publish_mode === 2) return 'window';
  return 'none';
}

/** The answer a device gets from this task, serialised once per build. */
function answerOf(r: Row, downloadUrl: string): string {
  const single = r.upgrade_type === UPGRADE_TYPE.single;
  return JSON.stringify({
    resultCode: 100,
    resultStatus: r.upgrade_type,
    upgradeType: r.upgrade_type,
    forceUpgrade: r.upgrade_type === UPGRADE_TYPE.forced,
    silentPeriodDays: single ? DEFAULT_SILENT_DAYS : 0,
    newestVersion: r.app_version,
    guideMemo: r.upgrade_content,
    // the keys of the iOS SDK's callback dictionary (guide §4.2.2), for an app that hands this answer to its own UI
    message: r.upgrade_content,
    upgradeShortVersion: r.app_version,
    upgradeFullVersion: r.app_version,
    needClientNetType: includedNetTypes(r.grey_config_info),
    downloadURL: downloadUrl,
    packageType: r.package_type,
    platform: r.platform,
    md5: r.md5,
    fileSize: num(r.file_size),
    needCheck: r.need_check === 1,
    packageId: r.package_id,
    taskId: r.id,
  });
}

/** The network types an include rule of the task asks for, as written ("4G,WIFI"); "" when it names none. */
function includedNetTypes(greyConfigInfo: string | null): string {
  try {
    const rules: unknown = JSON.parse(greyConfigInfo || '[]');
    if (!Array.isArray(rules)) return '';
    const values = rules
      .filter((r) => r && typeof r === 'object' && String(r.ruleElement).trim() === 'netType' && Number(String(r.operation).trim()) === 1)
      .flatMap((r) => String(r.value ?? '').split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return values.join(',');
  } catch {
    return '';
  }
}

/**
 * Reads and compiles the releasing upgrade tasks (stamp first, as the H5
 * snapshots do: a change committing meanwhile moves the stamp past it).
 * Whitelists are read scoped by app and workspace; regular-expression and
 * normal lists load and compile as the delivery snapshot's do (loadWhitelists).
 */
export async function loadUpgradePlans(
  deps: Deps,
  appId: string,
  workspaceId: string,
  admissions: AdmissionCache,
  caches: Pick<LoaderCaches, 'whitelists'> = { whitelists: new Map() },
): Promise<UpgradePlans> {
  const { knex } = deps.db;
  const now = deps.now();
  // in pages by task id, the loop handed back between them (SQLite answers synchronously; see loadSnapshot)
  const { stamp, rows: raw } = await readReleasing(
    () => readStamp(deps, appId, workspaceId),
    (after, size): Promise<Array<{ id: unknown } & Record<string, any>>> =>
      knex('upgrade_tasks as t')
        .join('upgrade_packages as p', 'p.id', 't.package_id')
        .where({ 't.app_id': appId, 't.workspace_id': workspaceId, 't.task_status': 1 })
        .andWhere('t.id', '>', after)
        .orderBy('t.id')
        .limit(size)
        .select(
          't.id', 't.publish_type', 't.publish_mode', 't.task_status', 't.upgrade_type', 't.grey_endtime', 't.grey_num', 't.grey_admitted', 't.grey_config_info',
          't.whitelist_ids', 't.upgrade_content', 't.created_at', 't.package_id', 'p.platform', 'p.package_type', 'p.app_version', 'p.file_key', 'p.md5', 'p.file_size',
          'p.download_url', 'p.appstore_url', 'p.need_check', 'p.verification_code', 'p.created_at as package_created_at', 'p.valid_days',
        ),
    TASK_PAGE,
  );
  const rows: Row[] = raw.map((r: Record<string, any>) => ({
    ...r,
    id: num(r.id),
    publish_type: num(r.publish_type),
    publish_mode: num(r.publish_mode),
    task_status: num(r.task_status),
    upgrade_type: num(r.upgrade_type),
    grey_endtime: r.grey_endtime === null || r.grey_endtime === undefined ? null : num(r.grey_endtime),
    grey_num: num(r.grey_num),
    grey_admitted: num(r.grey_admitted),
    created_at: num(r.created_at),
    package_id: num(r.package_id),
    need_check: num(r.need_check),
    package_created_at: num(r.package_created_at),
    valid_days: num(r.valid_days),
  })) as Row[];

  const wanted = new Set<number>();
  for (const r of rows) if (gateOf(r) === 'whitelist') for (const id of whitelistIdsOf(r.whitelist_ids)) wanted.add(id);
  // the delivery loader's: big lists packed and read in pages, unchanged lists kept from the last build
  const lists = await loadWhitelists(deps, appId, workspaceId, wanted, caches, (msg, f) => deps.log.warn(msg, f));

  const urls = new Map<string, string>();
  const ruleSets = new Map<string, RuleSet>();
  const out = { android: [] as TaskPlan[], ios: [] as TaskPlan[], iosEnterprise: [] as TaskPlan[] };
  // a TestFlight build is offered until it expires (its valid days, as App Store Connect has them); the plans are rebuilt then
  let expiresNext = Infinity;
  for (let i = 0; i < rows.length; i++) {
    // thousands of tasks take longer to compile than a check should wait (SQLite answered the read synchronously too)
    if (i % PLAN_SLICE === 0) await handBack();
    const r = rows[i]!;
    const platform = r.platform.toLowerCase();
    if (platform !== 'android' && platform !== 'ios') continue;
    if (r.package_type === 'testflight') {
      const expires = r.package_created_at + r.valid_days * DAY_MS;
      if (now >= expires) continue;
      expiresNext = Math.min(expiresNext, expires);
    }
    let url = r.download_url || r.appstore_url;
    if (r.file_key && r.need_check === 1) {
      // download verification (guide §4.4): the package is downloaded only after its code is given, so the device
      // gets the page that asks for it, never the file's own address (its link would skip the code)
      url = downloadGateUrl(deps.config, { appId, workspaceId }, r.package_id);
    } else if (r.file_key) {
      if (!urls.has(r.file_key)) urls.set(r.file_key, await deps.blobs.downloadUrl(r.file_key));
      url = urls.get(r.file_key)!;
    }
    const gate = gateOf(r);
    const ruleText = (r.grey_config_info ?? '').trim();
    let rules = ruleSets.get(ruleText);
    if (!rules) ruleSets.set(ruleText, (rules = ruleSetOf(compileRules(ruleText))));
    const plan: TaskPlan = {
      id: r.id,
      h5Id: 'upgrade',
      resourceId: r.package_id,
      version: parseVersion(r.app_version),
      versionText: r.app_version,
      tier: r.publish_type === 3 ? 3 : gate === 'whitelist' ? 2 : 1,
      rollback: false,
      gate,
      // an upgrade package has no client range: every older client of its platform is a candidate
      android: platform === 'android' ? OPEN_RANGE : null,
      ios: platform === 'ios' ? OPEN_RANGE : null,
      rules,
      whitelists: gate === 'whitelist' ? whitelistIdsOf(r.whitelist_ids).flatMap((id) => (lists.has(id) ? [lists.get(id)!] : [])) : [],
      endTime: r.grey_endtime ? r.grey_endtime : null,
      greyNum: r.grey_num,
      percentBuckets: 0,
      seed: String(r.id),
      seedHash: 0,
      // upgrade tasks are released when created (the API has no status change for them)
      releasedAt: r.created_at,
      entry: piece(answerOf(r, url)),
    };
    out[platform === 'android' ? 'android' : r.package_type === 'enterprise' ? 'iosEnterprise' : 'ios'].push(plan);
  }
  out.android.sort(byPriority);
  out.ios.sort(byPriority);
  out.iosEnterprise.sort(byPriority);
  await admissions.prepare(rows.filter((r) => gateOf(r) === 'window').map((r) => ({ id: r.id, greyNum: r.grey_num, greyAdmitted: r.grey_admitted, endTime: r.grey_endtime || null })));
  // signed links are renewed when their window moves on (downloadWindow); links under MCUBE_DOWNLOAD_BASE_URL never expire
  const renewAt = urls.size && !deps.config.storage.downloadBaseUrl ? downloadWindow(now, deps.config.storage.downloadUrlTtlSec).renewAt : Infinity;
  return { stamp, refreshAt: Math.min(renewAt, expiresNext), ...out };
}
