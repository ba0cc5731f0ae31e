import type { Knex } from 'knex';
import type { Database } from '../../packages/server/src/db/database.js';
import { bumpStamp } from '../../packages/server/src/db/stamps.js';
import { netTypeKey } from '../../packages/server/src/features/delivery/engine/rules.js';
import type { DeviceCheck } from '../../packages/server/src/features/delivery/engine/select.js';
import { parseVersion } from '../../packages/server/src/features/delivery/engine/versions.js';
import {
  buildSnapshot,
  compileWhitelist,
  type CompiledWhitelist,
  type ResourceRow,
  type Snapshot,
  type TaskRow,
} from '../../packages/server/src/features/delivery/snapshot.js';

/**
 * Rows for the delivery engine, in the write side's column contract, so the
 * engine can be specified without the Nebula actions: plain objects for the
 * pure tests, knex inserts for the database-backed ones.
 */

export const CDN = 'https://cdn.test/';
let seq = 0;

export function resourceRow(o: Partial<ResourceRow> = {}): ResourceRow {
  const id = o.id ?? ++seq;
  const h5Id = o.h5_id ?? '70000000';
  const version = o.h5_version ?? '1.0.0';
  return {
    id,
    h5_id: h5Id,
    h5_name: 'Demo',
    h5_version: version,
    platform: 'all',
    client_version_min: '1.0.0;1.0.0',
    client_version_max: '',
    amr_key: `pkg/test/${h5Id}/${version}_all/nebula/${h5Id}_${version}.amr`,
    md5: 'd41d8cd98f00b204e9800998ecf8427e',
    file_size: 1234,
    main_url: '/www/index.html',
    vhost: `https://${h5Id}.h5app.com`,
    auto_install: 1,
    install_type: 1,
    extend_info: '',
    sub_url: '',
    resource_type: 1,
    ...o,
  };
}

export function taskRow(resource: ResourceRow, o: Partial<TaskRow> = {}): TaskRow {
  const id = o.id ?? ++seq;
  return {
    id,
    h5_id: resource.h5_id,
    publish_type: 3,
    publish_mode: 4,
    task_status: 1,
    task_type: 0,
    grey_endtime: null,
    grey_num: 0,
    grey_admitted: 0,
    grey_config_info: '',
    whitelist_ids: '',
    percent: 0,
    seed: 'a1b2c3d4',
    task_version: 1_700_000_000_000 + id,
    ...o,
  };
}

/** A snapshot over rows; download addresses are CDN + key. */
export function snapshotOf(rows: Array<{ task: TaskRow; resource: ResourceRow }>, whitelists: Array<{ id: number; type: 'normal' | 'regex'; values: string[] }> = []): Snapshot {
  const wl = new Map<number, CompiledWhitelist>();
  for (const w of whitelists) wl.set(w.id, compileWhitelist(w.id, w.type, w.values));
  return buildSnapshot({
    appId: 'ALIPUB0000001',
    workspaceId: 'default',
    stamp: 1,
    builtAt: 0,
    rows,
    whitelists: wl,
    packageUrl: (key) => CDN + key,
    vhostDomain: 'h5app.com',
  });
}

export interface DeviceOpts {
  platform?: 'android' | 'ios';
  client?: string;
  userKey?: string;
  /** the device's userId; defaults to userKey (a device that sent a userId) */
  userId?: string;
  city?: string;
  model?: string;
  netType?: string;
  system?: string;
  now?: number;
}

export function device(o: DeviceOpts = {}): DeviceCheck {
  return {
    platform: o.platform ?? 'android',
    client: parseVersion(o.client ?? '1.5.0'),
    userKey: o.userKey ?? 'user-1',
    userId: o.userId ?? o.userKey ?? 'user-1',
    facts: {
      city: (o.city ?? '').toLowerCase(),
      mobileModel: (o.model ?? '').toLowerCase(),
      netType: netTypeKey(o.netType ?? ''),
      osVersion: parseVersion(o.system ?? ''),
      hasOsVersion: (o.system ?? '') !== '',
      clientVersion: parseVersion(o.client ?? '1.5.0'),
      hasClientVersion: true,
    },
    now: o.now ?? 1_800_000_000_000,
  };
}

// ---- database ---------------------------------------------------------------------------------

export interface Scope {
  appId: string;
  workspaceId: string;
}

export const DEFAULT_SCOPE: Scope = { appId: 'ALIPUB0000001', workspaceId: 'default' };

type NewResource = Partial<Omit<ResourceRow, 'id'>>;
type NewTask = Partial<Omit<TaskRow, 'id' | 'h5_id'>>;

/** Inserts a package row (the .amr object itself is not needed: only its download address is). */
export async function insertResource(knex: Knex, o: NewResource = {}, s: Scope = DEFAULT_SCOPE): Promise<ResourceRow> {
  const r = resourceRow({ ...o, id: 0 });
  const { id: _drop, ...cols } = r;
  const now = Date.now();
  const [row] = await knex('nebula_resources')
    .insert({ ...cols, app_id: s.appId, workspace_id: s.workspaceId, json_key: cols.amr_key.replace(/\.amr$/, '.json'), release_version: '20240101000000', created_at: now, modified_at: now })
    .returning('id');
  return { ...r, id: Number(typeof row === 'object' ? (row as { id: unknown }).id : row) };
}

let taskClock = 1_700_000_000_000;

export async function insertTask(knex: Knex, resource: ResourceRow, o: NewTask = {}, s: Scope = DEFAULT_SCOPE): Promise<TaskRow> {
  const t = taskRow(resource, { task_version: ++taskClock, ...o, id: 0 });
  const { id: _drop, ...cols } = t;
  const now = Date.now();
  const [row] = await knex('nebula_tasks')
    .insert({ ...cols, app_id: s.appId, workspace_id: s.workspaceId, resource_id: resource.id, platform: resource.platform, release_version: '20240101000000', created_at: now, modified_at: now })
    .returning('id');
  return { ...t, id: Number(typeof row === 'object' ? (row as { id: unknown }).id : row) };
}

export async function insertWhitelist(knex: Knex, type: 'normal' | 'regex', values: string[], s: Scope = DEFAULT_SCOPE): Promise<number> {
  const now = Date.now();
  const [row] = await knex('whitelists')
    .insert({ app_id: s.appId, workspace_id: s.workspaceId, name: `wl-${++seq}-${now}`, type, entry_count: values.length, created_at: now, modified_at: now })
    .returning('id');
  const id = Number(typeof row === 'object' ? (row as { id: unknown }).id : row);
  // SQLite: knex sends a multi-row insert as one compound SELECT, at most 500 terms
  for (let i = 0; i < values.length; i += 500) {
    await knex('whitelist_entries').insert(values.slice(i, i + 500).map((value) => ({ whitelist_id: id, value })));
  }
  return id;
}

export async function setTaskStatusRow(knex: Knex, taskId: number, status: number): Promise<void> {
  await knex('nebula_tasks').where({ id: taskId }).update({ task_status: status, modified_at: Date.now() });
}

/** What every write action does after changing what devices get: move the stamp (and NOTIFY on PostgreSQL). */
export async function bump(db: Database, s: Scope = DEFAULT_SCOPE): Promise<void> {
  await db.knex.transaction((trx) => bumpStamp(trx, db.dialect, s.appId, s.workspaceId));
}
