import type { Knex } from 'knex';
import { num } from '../../db/database.js';
import { deleteRows } from '../../db/delete-rows.js';
import type { PackageType, Scope, UpgradePackage, UpgradePlatform, UpgradeTask } from './upgrade-types.js';

type K = Knex | Knex.Transaction;
type Row = Record<string, any>;

const where = (s: Scope) => ({ app_id: s.appId, workspace_id: s.workspaceId });

/** Row ids are 32-bit serials; a larger id (the wire allows int64) names no row, and PostgreSQL would refuse to compare it. */
const MAX_ROW_ID = 2147483647;
export const isRowId = (id: number) => Number.isSafeInteger(id) && id > 0 && id <= MAX_ROW_ID;

async function insertId(q: Knex.QueryBuilder): Promise<number> {
  const r = (await q.returning('id')) as Array<number | { id: number }>;
  const first = r[0]!;
  return num(typeof first === 'object' ? first.id : first);
}

function toPackage(r: Row): UpgradePackage {
  return {
    id: num(r.id),
    platform: r.platform as UpgradePlatform,
    packageType: r.package_type as PackageType,
    appVersion: r.app_version,
    fileKey: r.file_key,
    fileName: r.file_name,
    md5: r.md5,
    fileSize: num(r.file_size),
    downloadUrl: r.download_url,
    appstoreUrl: r.appstore_url,
    iconKey: r.icon_key,
    largeIconUrl: r.large_icon_url,
    symbolKey: r.symbol_key,
    bundleId: r.bundle_id,
    harmonyLabel: r.harmony_label,
    customDomainName: r.custom_domain_name,
    description: r.description,
    isEnterprise: num(r.is_enterprise),
    needCheck: num(r.need_check),
    verificationCode: r.verification_code,
    validDays: num(r.valid_days),
    installAmount: num(r.install_amount),
    publishPeriod: num(r.publish_period),
    creator: r.creator,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

function toTask(r: Row): UpgradeTask {
  return {
    id: num(r.id),
    packageId: num(r.package_id),
    platform: r.platform as UpgradePlatform,
    publishType: num(r.publish_type),
    publishMode: num(r.publish_mode),
    taskStatus: num(r.task_status),
    upgradeType: num(r.upgrade_type),
    historyForce: num(r.history_force),
    greyEndtime: r.grey_endtime === null || r.grey_endtime === undefined ? null : num(r.grey_endtime),
    greyNum: num(r.grey_num),
    greyAdmitted: num(r.grey_admitted),
    greyConfigInfo: r.grey_config_info,
    whitelistIds: r.whitelist_ids,
    memo: r.memo,
    upgradeContent: r.upgrade_content,
    creator: r.creator,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

// ---- packages -----------------------------------------------------------------------------------

export type NewPackage = Omit<UpgradePackage, 'id' | 'publishPeriod'>;

export async function insertPackage(k: K, s: Scope, p: NewPackage): Promise<number> {
  return insertId(
    k('upgrade_packages').insert({
      ...where(s),
      platform: p.platform,
      package_type: p.packageType,
      app_version: p.appVersion,
      file_key: p.fileKey,
      file_name: p.fileName,
      md5: p.md5,
      file_size: p.fileSize,
      download_url: p.downloadUrl,
      appstore_url: p.appstoreUrl,
      icon_key: p.iconKey,
      large_icon_url: p.largeIconUrl,
      symbol_key: p.symbolKey,
      bundle_id: p.bundleId,
      harmony_label: p.harmonyLabel,
      custom_domain_name: p.customDomainName,
      description: p.description,
      is_enterprise: p.isEnterprise,
      need_check: p.needCheck,
      verification_code: p.verificationCode,
      valid_days: p.validDays,
      install_amount: p.installAmount,
      publish_period: 0,
      creator: p.creator,
      created_at: p.createdAt,
      modified_at: p.modifiedAt,
    }),
  );
}

export async function getPackage(k: K, s: Scope, id: number, forUpdate = false): Promise<UpgradePackage | null> {
  if (!isRowId(id)) return null;
  const q = k('upgrade_packages').where({ ...where(s), id });
  const r = await (forUpdate ? q.forUpdate() : q).first();
  return r ? toPackage(r) : null;
}

/** Versions already registered for one platform and package type (for the uniqueness check, 1.0 = 1.0.0). */
export async function versionsOf(k: K, s: Scope, platform: string, packageType: string): Promise<string[]> {
  const rows = await k('upgrade_packages').where({ ...where(s), platform, package_type: packageType }).select('app_version');
  return rows.map((r) => String(r.app_version));
}

export async function listPackages(k: K, s: Scope, offset: number, limit: number): Promise<{ total: number; packages: UpgradePackage[] }> {
  const n = ((await k('upgrade_packages').where(where(s)).count({ n: '*' })) as Array<{ n: unknown }>)[0]?.n;
  const rows = await k('upgrade_packages').where(where(s)).orderBy('id', 'desc').offset(offset).limit(limit).select('*');
  return { total: num(n), packages: rows.map(toPackage) };
}

/** Unfinished tasks (status other than 2) of the given packages, per package. */
export interface TaskCounts {
  /** tasks not finished (to be released, releasing, paused): at most 10 */
  open: number;
  /** tasks releasing now */
  releasing: number;
}

export async function openTaskCounts(k: K, s: Scope, packageIds: number[]): Promise<Map<number, TaskCounts>> {
  const out = new Map<number, TaskCounts>();
  if (!packageIds.length) return out;
  const rows = await k('upgrade_tasks')
    .where(where(s))
    .whereIn('package_id', packageIds)
    .whereNot('task_status', 2)
    .groupBy('package_id')
    .select('package_id', k.raw('count(*) as n'), k.raw('sum(case when task_status = 1 then 1 else 0 end) as releasing'));
  for (const r of rows as Row[]) out.set(num(r.package_id), { open: num(r.n), releasing: num(r.releasing) });
  return out;
}

export async function setPublishPeriod(k: K, packageId: number, period: number, now: number): Promise<void> {
  await k('upgrade_packages').where({ id: packageId }).update({ publish_period: period, modified_at: now });
}

/** Deletes a package with its tasks and their admissions. */
export async function deletePackageCascade(trx: Knex.Transaction, dialect: 'sqlite' | 'pg', s: Scope, id: number): Promise<void> {
  // a time-window task may hold a million admitted users
  await deleteRows(trx, dialect, 'upgrade_admissions', (rows) => rows.whereIn('task_id', trx('upgrade_tasks').where({ ...where(s), package_id: id }).select('id')));
  await trx('upgrade_tasks').where({ ...where(s), package_id: id }).delete();
  await trx('upgrade_packages').where({ ...where(s), id }).delete();
}

// ---- tasks --------------------------------------------------------------------------------------

export type NewTask = Omit<UpgradeTask, 'id' | 'greyAdmitted'>;

export async function insertTask(k: K, s: Scope, t: NewTask): Promise<number> {
  return insertId(
    k('upgrade_tasks').insert({
      ...where(s),
      package_id: t.packageId,
      platform: t.platform,
      publish_type: t.publishType,
      publish_mode: t.publishMode,
      task_status: t.taskStatus,
      upgrade_type: t.upgradeType,
      history_force: t.historyForce,
      grey_endtime: t.greyEndtime,
      grey_num: t.greyNum,
      grey_admitted: 0,
      grey_config_info: t.greyConfigInfo,
      whitelist_ids: t.whitelistIds,
      memo: t.memo,
      upgrade_content: t.upgradeContent,
      creator: t.creator,
      created_at: t.createdAt,
      modified_at: t.modifiedAt,
    }),
  );
}

export async function getTask(k: K, s: Scope, id: number): Promise<UpgradeTask | null> {
  if (!isRowId(id)) return null;
  const r = await k('upgrade_tasks').where({ ...where(s), id }).first();
  return r ? toTask(r) : null;
}

/** Tasks of one package, newest first. */
export async function listTasks(k: K, s: Scope, packageId: number): Promise<UpgradeTask[]> {
  const rows = await k('upgrade_tasks').where({ ...where(s), package_id: packageId }).orderBy('id', 'desc').select('*');
  return rows.map(toTask);
}

/** Whitelists of this app and workspace among `ids`, for the task detail. */
export async function whitelistsByIds(k: K, s: Scope, ids: number[]): Promise<Array<{ id: number; name: string; type: string; entryCount: number; modifiedAt: number }>> {
  const valid = ids.filter(isRowId);
  if (!valid.length) return [];
  const rows = await k('whitelists').where(where(s)).whereIn('id', valid).select('id', 'name', 'type', 'entry_count', 'modified_at');
  const byId = new Map(rows.map((r: Row) => [num(r.id), { id: num(r.id), name: String(r.name), type: String(r.type), entryCount: num(r.entry_count), modifiedAt: num(r.modified_at) }]));
  return valid.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : []));
}
