import type { Knex } from 'knex';
import { num } from '../../db/database.js';
import { deleteRows } from '../../db/delete-rows.js';
import { ID_LENGTH, kindOfId, type Kind } from './kinds.js';
import type { NebulaApp, NebulaResource, NebulaTask, Scope } from './nebula-types.js';

type K = Knex | Knex.Transaction;
type Row = Record<string, any>;

const where = (s: Scope) => ({ app_id: s.appId, workspace_id: s.workspaceId });

/** Row ids are 32-bit serials; a larger id (the wire allows int64) names no row, and PostgreSQL would refuse to compare it. */
const MAX_ROW_ID = 2147483647;
const isRowId = (id: number) => Number.isSafeInteger(id) && id > 0 && id <= MAX_ROW_ID;

/** LIKE pattern matching `text` literally (with "\" as the escape character on both databases). */
function likeContains(text: string): string {
  return '%' + text.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
}

async function insertId(q: Knex.QueryBuilder): Promise<number> {
  const r = (await q.returning('id')) as Array<number | { id: number }>;
  const first = r[0]!;
  return num(typeof first === 'object' ? first.id : first);
}

function toApp(r: Row): NebulaApp {
  return { id: num(r.id), h5Id: r.h5_id, h5Name: r.h5_name, resourceType: r.resource_type === null || r.resource_type === undefined ? null : num(r.resource_type), createdAt: num(r.created_at) };
}

function toResource(r: Row): NebulaResource {
  return {
    id: num(r.id),
    h5Id: r.h5_id,
    h5Name: r.h5_name,
    h5Version: r.h5_version,
    resourceType: num(r.resource_type),
    platform: r.platform,
    clientVersionMin: r.client_version_min,
    clientVersionMax: r.client_version_max,
    mainUrl: r.main_url,
    subUrl: r.sub_url,
    vhost: r.vhost,
    customDomainName: r.custom_domain_name,
    extendInfo: r.extend_info,
    autoInstall: num(r.auto_install),
    installType: num(r.install_type),
    repeatNebula: num(r.repeat_nebula),
    amrKey: r.amr_key,
    jsonKey: r.json_key,
    fallbackKey: r.fallback_key ?? null,
    globalPackUrl: r.global_pack_url ?? null,
    packageType: r.package_type === null || r.package_type === undefined ? null : num(r.package_type),
    miniInfo: r.mini_info ?? null,
    md5: r.md5,
    fileSize: num(r.file_size),
    publishPeriod: num(r.publish_period),
    releaseVersion: r.release_version,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

function toTask(r: Row): NebulaTask {
  return {
    id: num(r.id),
    resourceId: num(r.resource_id),
    h5Id: r.h5_id,
    publishType: num(r.publish_type),
    publishMode: num(r.publish_mode),
    taskStatus: num(r.task_status),
    taskType: num(r.task_type),
    greyEndtime: r.grey_endtime === null || r.grey_endtime === undefined ? null : num(r.grey_endtime),
    greyNum: num(r.grey_num),
    greyAdmitted: num(r.grey_admitted),
    greyConfigInfo: r.grey_config_info,
    whitelistIds: r.whitelist_ids,
    percent: num(r.percent),
    seed: r.seed,
    memo: r.memo,
    platform: r.platform,
    taskVersion: num(r.task_version),
    releaseVersion: r.release_version,
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

// ---- vhost and RSA key --------------------------------------------------------------------------

export async function getVhost(k: K, s: Scope): Promise<string | null> {
  const r = await k('vhosts').where(where(s)).first('vhost');
  return r?.vhost ? String(r.vhost) : null;
}

export async function getRsaKeyRow(k: K, s: Scope, forShare = false): Promise<{ privateKeyEnc: string; publicKeyPem: string; bits: number } | null> {
  const q = k('rsa_keys').where(where(s)).first();
  const r = await (forShare ? q.forShare() : q);
  return r ? { privateKeyEnc: r.private_key_enc, publicKeyPem: r.public_key_pem, bits: num(r.bits) } : null;
}

export async function upsertRsaKey(k: K, s: Scope, v: { privateKeyEnc: string; publicKeyPem: string; bits: number }, now: number): Promise<void> {
  const row = { private_key_enc: v.privateKeyEnc, public_key_pem: v.publicKeyPem, bits: v.bits, updated_at: now };
  await k('rsa_keys').insert({ ...where(s), ...row }).onConflict(['app_id', 'workspace_id']).merge(row);
}

// ---- H5 apps ------------------------------------------------------------------------------------

export async function findApp(k: K, s: Scope, h5Id: string, forUpdate = false): Promise<NebulaApp | null> {
  const q = k('nebula_apps').where({ ...where(s), h5_id: h5Id });
  const r = await (forUpdate ? q.forUpdate() : q).first();
  return r ? toApp(r) : null;
}

/** Inserts the app unless it exists; true when this call created it. */
export async function insertAppIfMissing(k: K, s: Scope, h5Id: string, h5Name: string, now: number): Promise<boolean> {
  const r = (await k('nebula_apps')
    .insert({ ...where(s), h5_id: h5Id, h5_name: h5Name, resource_type: null, created_at: now })
    .onConflict(['app_id', 'workspace_id', 'h5_id'])
    .ignore()
    .returning('id')) as unknown[];
  return r.length > 0;
}

export async function setAppResourceType(k: K, s: Scope, h5Id: string, resourceType: number): Promise<void> {
  await k('nebula_apps').where({ ...where(s), h5_id: h5Id }).whereNull('resource_type').update({ resource_type: resourceType });
}

/** Offline-package apps and mini programs share the tables; the id's length tells them apart (kinds.ts). */
const ofKind = (q: Knex.QueryBuilder, kind: Kind) => q.whereRaw('length(h5_id) = ?', [ID_LENGTH[kind]]);

export async function listApps(k: K, s: Scope, kind: Kind, keyword: string, offset: number, limit: number): Promise<{ total: number; apps: NebulaApp[] }> {
  const base = () => {
    const q = ofKind(k('nebula_apps').where(where(s)), kind);
    if (keyword) {
      const pat = likeContains(keyword.toLowerCase());
      q.andWhere((w) => w.whereRaw("lower(h5_id) like ? escape '\\'", [pat]).orWhereRaw("lower(h5_name) like ? escape '\\'", [pat]));
    }
    return q;
  };
  const n = ((await base().count({ n: '*' })) as Array<{ n: unknown }>)[0]?.n;
  const rows = await base().orderBy('h5_id').offset(offset).limit(limit).select('*');
  return { total: num(n), apps: rows.map(toApp) };
}

/**
 * Deletes one H5 app with its packages, tasks and admissions; returns the
 * object keys its packages pointed at (to be dropped in the same transaction).
 */
export async function deleteAppCascade(trx: Knex.Transaction, dialect: 'sqlite' | 'pg', s: Scope, h5Id: string, now: number): Promise<string[]> {
  const scoped = { ...where(s), h5_id: h5Id };
  // PostgreSQL: the packages are locked first, in id order, as a task change locks its package before its task;
  // deleting the tasks first deadlocked with a concurrent ChangeMcubeNebulaTaskStatus
  const q = trx('nebula_resources').where(scoped).orderBy('id').select('id', 'amr_key', 'json_key', 'fallback_key');
  const resources = await (dialect === 'pg' ? q.forUpdate() : q);
  const ids = resources.map((r) => num(r.id));
  if (ids.length) {
    // a time-window task may hold a million admitted users
    await deleteRows(trx, dialect, 'grey_admissions', (rows) => rows.whereIn('task_id', trx('nebula_tasks').whereIn('resource_id', ids).select('id')));
    await trx('nebula_tasks').whereIn('resource_id', ids).delete();
    await trx('nebula_resources').whereIn('id', ids).delete();
  }
  await trx('nebula_apps').where(scoped).delete();
  // devices still holding its packages are told to remove them (removeAppIdList), until the id is published again
  await trx('removed_h5_apps').insert({ ...where(s), h5_id: h5Id, removed_at: now }).onConflict(['app_id', 'workspace_id', 'h5_id']).merge(['removed_at']);
  return resources.flatMap((r) => [r.amr_key as string, r.json_key as string, ...(r.fallback_key ? [r.fallback_key as string] : [])]);
}

// ---- resources ----------------------------------------------------------------------------------

export async function listVersions(k: K, s: Scope, h5Id: string): Promise<Array<{ id: number; h5Version: string }>> {
  const rows = await k('nebula_resources').where({ ...where(s), h5_id: h5Id }).select('id', 'h5_version');
  return rows.map((r) => ({ id: num(r.id), h5Version: r.h5_version }));
}

export type NewResource = Omit<NebulaResource, 'id' | 'publishPeriod'>;

/** A package of the H5 id is stored again: devices holding it are no longer told to remove it. */
export async function forgetRemovedApp(k: K, s: Scope, h5Id: string): Promise<void> {
  await k('removed_h5_apps').where({ ...where(s), h5_id: h5Id }).delete();
}

export async function insertResource(k: K, s: Scope, r: NewResource): Promise<number> {
  return insertId(
    k('nebula_resources').insert({
      ...where(s),
      h5_id: r.h5Id,
      h5_name: r.h5Name,
      h5_version: r.h5Version,
      resource_type: r.resourceType,
      platform: r.platform,
      client_version_min: r.clientVersionMin,
      client_version_max: r.clientVersionMax,
      main_url: r.mainUrl,
      sub_url: r.subUrl,
      vhost: r.vhost,
      custom_domain_name: r.customDomainName,
      extend_info: r.extendInfo,
      auto_install: r.autoInstall,
      install_type: r.installType,
      repeat_nebula: r.repeatNebula,
      amr_key: r.amrKey,
      json_key: r.jsonKey,
      fallback_key: r.fallbackKey,
      global_pack_url: r.globalPackUrl,
      package_type: r.packageType,
      mini_info: r.miniInfo,
      md5: r.md5,
      file_size: r.fileSize,
      publish_period: 0,
      release_version: r.releaseVersion,
      created_at: r.createdAt,
      modified_at: r.modifiedAt,
    }),
  );
}

export async function getResource(k: K, s: Scope, id: number, forUpdate = false): Promise<NebulaResource | null> {
  if (!isRowId(id)) return null;
  const q = k('nebula_resources').where({ ...where(s), id });
  const r = await (forUpdate ? q.forUpdate() : q).first();
  return r ? toResource(r) : null;
}

/** A package of this kind of app; one of the other kind is not found (kinds.ts). */
export async function getResourceOfKind(k: K, s: Scope, kind: Kind, id: number, forUpdate = false): Promise<NebulaResource | null> {
  const r = await getResource(k, s, id, forUpdate);
  return r && kindOfId(r.h5Id) === kind ? r : null;
}

/** `packageTypes`: only packages of these types (mini programs' ListMcubeMiniPackages); null for all. */
export async function listResources(
  k: K,
  s: Scope,
  kind: Kind,
  h5Id: string,
  offset: number,
  limit: number,
  packageTypes: number[] | null = null,
): Promise<{ total: number; resources: NebulaResource[] }> {
  const base = () => {
    const q = ofKind(h5Id ? k('nebula_resources').where({ ...where(s), h5_id: h5Id }) : k('nebula_resources').where(where(s)), kind);
    return packageTypes ? q.whereIn('package_type', packageTypes) : q;
  };
  const n = ((await base().count({ n: '*' })) as Array<{ n: unknown }>)[0]?.n;
  const rows = await base().orderBy('id', 'desc').offset(offset).limit(limit).select('*');
  return { total: num(n), resources: rows.map(toResource) };
}

export async function setPublishPeriod(k: K, resourceId: number, period: number, now: number): Promise<void> {
  await k('nebula_resources').where({ id: resourceId }).update({ publish_period: period, modified_at: now });
}

// ---- tasks --------------------------------------------------------------------------------------

export type NewTask = Omit<NebulaTask, 'id' | 'greyAdmitted'>;

export async function insertTask(k: K, s: Scope, t: NewTask): Promise<number> {
  return insertId(
    k('nebula_tasks').insert({
      ...where(s),
      resource_id: t.resourceId,
      h5_id: t.h5Id,
      publish_type: t.publishType,
      publish_mode: t.publishMode,
      task_status: t.taskStatus,
      task_type: t.taskType,
      grey_endtime: t.greyEndtime,
      grey_num: t.greyNum,
      grey_admitted: 0,
      grey_config_info: t.greyConfigInfo,
      whitelist_ids: t.whitelistIds,
      percent: t.percent,
      seed: t.seed,
      memo: t.memo,
      platform: t.platform,
      task_version: t.taskVersion,
      release_version: t.releaseVersion,
      released_at: t.taskStatus === 1 ? t.createdAt : null,
      created_at: t.createdAt,
      modified_at: t.modifiedAt,
    }),
  );
}

export async function getTask(k: K, s: Scope, id: number): Promise<NebulaTask | null> {
  if (!isRowId(id)) return null;
  const r = await k('nebula_tasks').where({ ...where(s), id }).first();
  return r ? toTask(r) : null;
}

/** A release task of this kind of app; one of the other kind is not found (kinds.ts). */
export async function getTaskOfKind(k: K, s: Scope, kind: Kind, id: number): Promise<NebulaTask | null> {
  const t = await getTask(k, s, id);
  return t && kindOfId(t.h5Id) === kind ? t : null;
}

export async function listTasks(k: K, s: Scope, resourceId: number): Promise<NebulaTask[]> {
  const rows = await k('nebula_tasks').where({ ...where(s), resource_id: resourceId }).orderBy('id', 'desc').select('*');
  return rows.map(toTask);
}

/** Changes a task's status only if it still has `from`; false when another change came first. */
export async function updateTaskStatus(k: K, id: number, from: number, to: number, now: number): Promise<boolean> {
  // a release (0 -> 1) is the time delivery ranks same-type tasks by; continuing a paused task (3 -> 1) keeps it
  const release = from === 0 && to === 1 ? { released_at: now } : {};
  return (await k('nebula_tasks').where({ id, task_status: from }).update({ task_status: to, modified_at: now, ...release })) === 1;
}

/**
 * The ids among `ids` that are whitelists of this app and workspace. With `share`
 * (PostgreSQL, inside the transaction that creates a task) the rows stay locked
 * against DeleteMcubeWhitelist until that transaction ends: the delete locks the
 * list FOR UPDATE before it looks for tasks using it, so it either waits and then
 * sees the new task (WhitelistInUse), or goes first and the task finds no list.
 */
export async function existingWhitelistIds(k: K, s: Scope, ids: number[], share = false): Promise<Set<number>> {
  const valid = ids.filter(isRowId);
  if (!valid.length) return new Set();
  const q = k('whitelists').where(where(s)).whereIn('id', valid).select('id');
  if (share) q.forShare();
  const rows = await q;
  return new Set(rows.map((r) => num(r.id)));
}
