import type { Knex } from 'knex';
import { handBack } from '../../core/hand-back.js';
import { deleteRows } from '../../db/delete-rows.js';
import { num } from '../../db/database.js';
import type { WhitelistType } from './whitelist-type.js';
import { kindOfId, type Kind } from '../nebula/kinds.js';

export interface Scope {
  appId: string;
  workspaceId: string;
}

export interface Whitelist {
  id: number;
  appId: string;
  workspaceId: string;
  name: string;
  type: WhitelistType;
  entryCount: number;
  createdAt: number;
  modifiedAt: number;
}

type Q = Knex | Knex.Transaction;

/** Rows per SQLite INSERT: 2 bound values each, far below its limit of 32766 variables. */
export const INSERT_BATCH = 1000;
/**
 * Values one change may log; a bigger change (a big import) makes the nodes read the whole list. An id
 * logged costs a row more on write; a whole read of a million ids costs every node about two seconds, and
 * with several nodes reading at once the new ids took 3-4 s to be served.
 */
export const CHANGE_LOG_MAX = 10_000;
/** Logged changes kept per list; a node further behind reads the whole list. */
export const CHANGE_LOG_KEEP = 50_000;
/** Rows per PostgreSQL INSERT: one array parameter, so only memory bounds it. */
export const PG_INSERT_BATCH = 5000;

function toWhitelist(r: Record<string, unknown>): Whitelist {
  return {
    id: num(r.id),
    appId: String(r.app_id),
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    type: r.type as WhitelistType,
    entryCount: num(r.entry_count),
    createdAt: num(r.created_at),
    modifiedAt: num(r.modified_at),
  };
}

/** Every query is scoped by app and workspace, so a guessed id of another tenant's list finds nothing. */
const scoped = (q: Q, s: Scope) => q('whitelists').where({ app_id: s.appId, workspace_id: s.workspaceId });

export type TaskKind = Kind | 'upgrade';

export const whitelistStore = {
  async insert(q: Q, s: Scope, name: string, type: WhitelistType, now: number): Promise<number> {
    const [row] = await q('whitelists')
      .insert({ app_id: s.appId, workspace_id: s.workspaceId, name, type, entry_count: 0, created_at: now, modified_at: now })
      .returning('id');
    return num(typeof row === 'object' ? (row as { id: unknown }).id : row);
  },

  /** Reads one list; with lock (PostgreSQL only) the row stays locked until the transaction ends. */
  async get(q: Q, s: Scope, id: number, lock = false): Promise<Whitelist | null> {
    const query = scoped(q, s).where({ id }).first();
    if (lock) query.forUpdate();
    const r = await query;
    return r ? toWhitelist(r) : null;
  },

  async getByName(q: Q, s: Scope, name: string, lock = false): Promise<Whitelist | null> {
    const query = scoped(q, s).where({ name }).first();
    if (lock) query.forUpdate();
    const r = await query;
    return r ? toWhitelist(r) : null;
  },

  async list(q: Q, s: Scope, opts: { nameContains?: string; offset: number; limit: number }): Promise<{ total: number; items: Whitelist[] }> {
    const base = () => {
      const b = scoped(q, s);
      if (opts.nameContains) {
        const pattern = '%' + opts.nameContains.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c) + '%';
        b.whereRaw("lower(name) like ? escape '\\'", [pattern]);
      }
      return b;
    };
    const [countRow] = await base().count({ n: '*' });
    const rows = await base().select('*').orderBy('id', 'desc').offset(opts.offset).limit(opts.limit);
    return { total: num(countRow?.n), items: rows.map(toWhitelist) };
  },

  async delete(q: Knex.Transaction, dialect: 'sqlite' | 'pg', s: Scope, id: number): Promise<void> {
    await deleteRows(q, dialect, 'whitelist_entries', (rows) => rows.where({ whitelist_id: id }));
    await q('whitelist_changes').where({ whitelist_id: id }).delete();
    await scoped(q, s).where({ id }).delete();
  },

  /**
   * Inserts values (each at most once); values already present are left alone.
   * PostgreSQL gets one array parameter per statement (unnest), which is several
   * times faster than thousands of bound pairs; SQLite gets a multi-row VALUES
   * (knex's SQLite builder would emit a compound SELECT, capped at 500 terms).
   */
  async insertValues(q: Q, dialect: 'sqlite' | 'pg', whitelistId: number, values: string[]): Promise<number> {
    const size = dialect === 'pg' ? PG_INSERT_BATCH : INSERT_BATCH;
    let added = 0;
    for (let i = 0; i < values.length; i += size) {
      // SQLite inserts synchronously: 60,000 ids in one go held the node for 200 ms
      if (i > 0) await handBack();
      const batch = values.slice(i, i + size);
      if (dialect === 'pg') {
        const r = await q.raw('insert into whitelist_entries (whitelist_id, value) select ?, unnest(?::text[]) on conflict (whitelist_id, value) do nothing', [whitelistId, batch]);
        added += Number((r as { rowCount?: number }).rowCount ?? 0);
      } else {
        const bindings: Array<string | number> = [];
        for (const v of batch) bindings.push(whitelistId, v);
        const r = await q.raw(`insert into whitelist_entries (whitelist_id, value) values ${batch.map(() => '(?, ?)').join(', ')} on conflict (whitelist_id, value) do nothing`, bindings);
        added += Number((r as { changes?: number }).changes ?? 0);
      }
    }
    return added;
  },

  async values(q: Q, whitelistId: number): Promise<string[]> {
    const rows = await q('whitelist_entries').where({ whitelist_id: whitelistId }).select('value').orderBy('value');
    return rows.map((r: { value: string }) => r.value);
  },

  async deleteValue(q: Q, whitelistId: number, value: string): Promise<boolean> {
    return (await q('whitelist_entries').where({ whitelist_id: whitelistId, value }).delete()) > 0;
  },

  /**
   * Moves entry_count by the rows a change added (or removed, negative),
   * stamps the change time and logs the change for the nodes that hold the
   * list (whitelist_changes): `changes` are the values in the order they were
   * applied, or null for a change too big to log, which takes one seq with
   * no row so that nodes read the whole list again. The callers hold the
   * list locked (FOR UPDATE, or SQLite's write transaction), so the counter
   * and the seqs stay exact; a count(*) here cost a quarter of a second per
   * change on a million-id list.
   */
  async touch(q: Q, whitelistId: number, now: number, delta: number, changes: ReadonlyArray<{ value: string; added: boolean }> | null): Promise<void> {
    const logged = changes && changes.length <= CHANGE_LOG_MAX ? changes : null;
    const taken = logged ? logged.length : 1;
    const [row] = await q('whitelists')
      .where({ id: whitelistId })
      .update({ entry_count: q.raw('entry_count + ?', [delta]), modified_at: now, change_seq: q.raw('change_seq + ?', [taken]) }, ['change_seq']);
    const to = num((row as { change_seq: unknown }).change_seq);
    const from = to - taken;
    if (logged) {
      for (let i = 0; i < logged.length; i += INSERT_BATCH / 2) {
        if (i > 0) await handBack();
        await q('whitelist_changes').insert(logged.slice(i, i + INSERT_BATCH / 2).map((c, k) => ({ whitelist_id: whitelistId, seq: from + i + k + 1, value: c.value, added: c.added ? 1 : 0 })));
      }
    }
    // what no node will ask for: changes a node cannot catch up on by log it reads whole anyway
    await q('whitelist_changes').where({ whitelist_id: whitelistId }).andWhere('seq', '<=', to - CHANGE_LOG_KEEP).delete();
  },

  /**
   * What names this list: unfinished tasks (task_status != 2), as offline-package task ids then "upgrade task <id>",
   * and switch keys, enabled or not (a disabled key can be enabled again).
   */
  /** Unfinished tasks naming the list, by kind (each ends by its own action), and switch keys naming it. */
  async usersOf(q: Q, s: Scope, whitelistId: number): Promise<{ tasks: Record<TaskKind, number[]>; switchKeys: string[] }> {
    // whitelist_ids is a list of decimal ids; reading every number keeps this independent of the separator.
    const wanted = String(whitelistId);
    const tasks: Record<TaskKind, number[]> = { nebula: [], mini: [], upgrade: [] };
    for (const table of ['nebula_tasks', 'upgrade_tasks']) {
      const rows = await q(table)
        .where({ app_id: s.appId, workspace_id: s.workspaceId })
        .whereNot('task_status', 2)
        .whereNot('whitelist_ids', '')
        .select('id', 'whitelist_ids', ...(table === 'nebula_tasks' ? ['h5_id'] : []));
      for (const r of rows as Array<{ id: unknown; whitelist_ids: string; h5_id?: string }>) {
        if (!(String(r.whitelist_ids).match(/\d+/g) ?? ([] as string[])).includes(wanted)) continue;
        // mini program tasks share nebula_tasks, told apart by the id's length (migration 011)
        tasks[table === 'upgrade_tasks' ? 'upgrade' : kindOfId(String(r.h5_id))].push(num(r.id));
      }
    }
    const values = await q('switch_config_values as v')
      .join('switch_configs as c', 'c.id', 'v.config_id')
      .where({ 'v.app_id': s.appId, 'v.workspace_id': s.workspaceId })
      .whereNot('v.whitelist_ids', '')
      .select('c.config_key', 'v.whitelist_ids');
    const keys = new Set<string>();
    for (const r of values as Array<{ config_key: string; whitelist_ids: string }>) if (String(r.whitelist_ids).split(',').includes(wanted)) keys.add(r.config_key);
    return { tasks, switchKeys: [...keys] };
  },
};
