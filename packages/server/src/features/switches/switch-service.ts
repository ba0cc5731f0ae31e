import type { Knex } from 'knex';
import { BusinessError } from '../../core/errors.js';
import type { Deps } from '../../core/registry.js';
import { num } from '../../db/database.js';
import { bumpStamp } from '../../db/stamps.js';
import { whitelistIdsOf } from '../delivery/snapshot.js';
import { existingWhitelistIds } from '../nebula/nebula-store.js';
import { invalid } from '../nebula/rules/field-error.js';
import { SWITCH_LIMITS, type SwitchDelivery, type SwitchPlatform, type SwitchSpec, type SwitchValue } from './switch-values.js';

export interface Scope {
  appId: string;
  workspaceId: string;
}

export interface SwitchConfig {
  id: number;
  key: string;
  note: string;
  enabled: boolean;
  creator: string;
  modifier: string;
  createdAt: number;
  modifiedAt: number;
  values: SwitchValue[];
}

type Q = Knex | Knex.Transaction;

/** The whitelist ids the values name, each once. */
const listIdsOf = (values: SwitchValue[]) => [...new Set(values.flatMap((v) => v.whitelistIds))];

const notFound = (key: string) => new BusinessError('SwitchConfigNotFound', `No switch key "${key}" in this app and workspace.`);

function valueRows(s: Scope, configId: number, values: SwitchValue[]) {
  return values.map((v, i) => ({
    config_id: configId,
    app_id: s.appId,
    workspace_id: s.workspaceId,
    position: i + 1,
    value: v.value,
    platform: v.platform,
    delivery: v.delivery,
    whitelist_ids: v.whitelistIds.join(','),
    percent_buckets: v.percentBuckets,
    rules: v.rules,
  }));
}

function toValue(r: Record<string, any>): SwitchValue {
  return {
    value: String(r.value),
    platform: r.platform as SwitchPlatform,
    delivery: r.delivery as SwitchDelivery,
    whitelistIds: whitelistIdsOf(String(r.whitelist_ids ?? '')),
    percentBuckets: num(r.percent_buckets),
    rules: String(r.rules ?? ''),
  };
}

/**
 * Switch configuration (guide §6). Every change moves the app/workspace's
 * delivery stamp in its transaction, so every node's device answers follow
 * within the stamp poll (a NOTIFY on PostgreSQL).
 */
export class SwitchService {
  constructor(private readonly deps: Deps) {}

  private async change<T>(s: Scope, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
    const { knex, dialect } = this.deps.db;
    const out = await knex.transaction(async (trx) => {
      const r = await fn(trx);
      await bumpStamp(trx, dialect, s.appId, s.workspaceId);
      return r;
    });
    this.deps.onDeliveryChange(s.appId, s.workspaceId);
    return out;
  }

  /** Which of the whitelists `values` name exist here; locked for share (PostgreSQL) so a concurrent delete waits. */
  private async foundWhitelists(trx: Q, s: Scope, values: SwitchValue[]): Promise<Set<number>> {
    const ids = listIdsOf(values);
    return ids.length ? existingWhitelistIds(trx, s, ids, this.deps.db.dialect === 'pg') : new Set();
  }

  /** The whitelists the values name must exist here. */
  private async checkWhitelists(trx: Q, s: Scope, values: SwitchValue[]): Promise<void> {
    const found = await this.foundWhitelists(trx, s, values);
    const missing = listIdsOf(values).filter((id) => !found.has(id));
    if (missing.length) throw invalid('Values', `no whitelist ${missing.join(', ')} in this app and workspace.`);
  }

  private async row(q: Q, s: Scope, key: string, lock: boolean) {
    const query = q('switch_configs').where({ app_id: s.appId, workspace_id: s.workspaceId, config_key: key }).first();
    if (lock && this.deps.db.dialect === 'pg') query.forUpdate();
    return query;
  }

  /**
   * Creates and imports in one app/workspace take turns on PostgreSQL, so the cap holds and an import's view of
   * the existing keys stays true until it commits (SQLite writes one transaction at a time anyway).
   */
  private async lockScope(trx: Knex.Transaction, s: Scope): Promise<void> {
    if (this.deps.db.dialect === 'pg') await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`mcube.switch_configs:${s.appId}/${s.workspaceId}`]);
  }

  private async countKeys(trx: Knex.Transaction, s: Scope): Promise<number> {
    const r = await trx('switch_configs').where({ app_id: s.appId, workspace_id: s.workspaceId }).count({ n: '*' }).first();
    return num(r?.n);
  }

  private async insert(trx: Knex.Transaction, s: Scope, spec: SwitchSpec, who: string, now: number): Promise<number> {
    const [row] = await trx('switch_configs')
      .insert({ app_id: s.appId, workspace_id: s.workspaceId, config_key: spec.key, note: spec.note, enabled: spec.enabled ? 1 : 0, creator: who, modifier: who, created_at: now, modified_at: now })
      .returning('id');
    const id = num(typeof row === 'object' ? (row as { id: unknown }).id : row);
    await trx('switch_config_values').insert(valueRows(s, id, spec.values));
    return id;
  }

  private exists(key: string, id?: number) {
    return new BusinessError('SwitchConfigExists', `The switch key "${key}" already exists in this app and workspace${id ? ` (id ${id})` : ''}; change it with UpdateMcubeSwitchConfig.`);
  }

  async create(s: Scope, spec: SwitchSpec, who: string): Promise<number> {
    try {
      return await this.change(s, async (trx) => {
        // the scope lock first, then the whitelists, in the order an import takes them
        await this.lockScope(trx, s);
        await this.checkWhitelists(trx, s, spec.values);
        if ((await this.countKeys(trx, s)) >= SWITCH_LIMITS.maxKeysPerWorkspace) {
          throw new BusinessError('SwitchConfigLimitExceeded', `This app and workspace already hold ${SWITCH_LIMITS.maxKeysPerWorkspace} switch keys, the most allowed.`);
        }
        return this.insert(trx, s, spec, who, this.deps.now());
      });
    } catch (err) {
      if (this.deps.db.isUniqueViolation(err)) {
        const existing = await this.row(this.deps.db.knex, s, spec.key, false);
        throw this.exists(spec.key, existing ? num(existing.id) : undefined);
      }
      throw err;
    }
  }

  /** Changes the note and/or replaces the values; the key itself cannot change (guide §6.3). */
  async update(s: Scope, key: string, change: { note?: string; values?: SwitchValue[] }, who: string): Promise<void> {
    await this.change(s, async (trx) => {
      const r = await this.row(trx, s, key, true);
      if (!r) throw notFound(key);
      const id = num(r.id);
      if (change.values) {
        await this.checkWhitelists(trx, s, change.values);
        await trx('switch_config_values').where({ config_id: id }).delete();
        await trx('switch_config_values').insert(valueRows(s, id, change.values));
      }
      await trx('switch_configs')
        .where({ id })
        .update({ ...(change.note !== undefined ? { note: change.note } : {}), modifier: who, modified_at: this.deps.now() });
    });
  }

  async setEnabled(s: Scope, key: string, enabled: boolean, who: string): Promise<void> {
    await this.change(s, async (trx) => {
      const n = await trx('switch_configs')
        .where({ app_id: s.appId, workspace_id: s.workspaceId, config_key: key })
        .update({ enabled: enabled ? 1 : 0, modifier: who, modified_at: this.deps.now() });
      if (!n) throw notFound(key);
    });
  }

  async delete(s: Scope, key: string): Promise<void> {
    await this.change(s, async (trx) => {
      const r = await this.row(trx, s, key, true);
      if (!r) throw notFound(key);
      // explicit: SQLite enforces the cascade only with foreign keys on, which a shared file may not have
      await trx('switch_config_values').where({ config_id: num(r.id) }).delete();
      await trx('switch_configs').where({ id: num(r.id) }).delete();
    });
  }

  /**
   * Adds the keys of an import file that do not exist yet (guide §6.3: an existing key is not imported);
   * all of them or none. The whitelists of the keys it adds must exist; the skipped keys are not read.
   */
  async importMany(s: Scope, items: Array<{ key: string; spec: () => SwitchSpec }>, who: string): Promise<{ imported: string[]; skipped: string[] }> {
    const seen = new Set<string>();
    for (const item of items) {
      if (seen.has(item.key)) throw invalid('Content', `the key "${item.key}" appears twice.`);
      seen.add(item.key);
    }
    if (!items.length) return { imported: [], skipped: [] };
    return this.change(s, async (trx) => {
      await this.lockScope(trx, s);
      const have = new Set<string>();
      const keys = items.map((x) => x.key);
      for (let i = 0; i < keys.length; i += 500) {
        const rows = await trx('switch_configs').where({ app_id: s.appId, workspace_id: s.workspaceId }).whereIn('config_key', keys.slice(i, i + 500)).select('config_key');
        for (const r of rows) have.add(String(r.config_key));
      }
      // only the keys it adds are read further (a refusal here rolls the whole import back)
      const fresh = items.flatMap((x, i) => (have.has(x.key) ? [] : [{ at: i + 1, spec: x.spec() }]));
      // one read for all the keys it adds, then the item at fault named
      const found = await this.foundWhitelists(trx, s, fresh.flatMap((x) => x.spec.values));
      for (const { at, spec } of fresh) {
        const missing = listIdsOf(spec.values).filter((id) => !found.has(id));
        if (missing.length) throw invalid('Content', `item ${at} (${spec.key}): no whitelist ${missing.join(', ')} in this app and workspace.`);
      }
      if ((await this.countKeys(trx, s)) + fresh.length > SWITCH_LIMITS.maxKeysPerWorkspace) {
        throw new BusinessError('SwitchConfigLimitExceeded', `Importing ${fresh.length} new keys would pass the ${SWITCH_LIMITS.maxKeysPerWorkspace} switch keys allowed per app and workspace.`);
      }
      const now = this.deps.now();
      for (const { spec } of fresh) await this.insert(trx, s, spec, who, now);
      return { imported: fresh.map((x) => x.spec.key), skipped: keys.filter((k) => have.has(k)) };
    });
  }

  /**
   * Keys ordered by id (newest first), with their values; `keyword` matches a part of the key or note,
   * case-insensitively. The match is made here, where key and note fold alike on both databases and no LIKE
   * escaping is needed: a workspace holds at most SWITCH_LIMITS.maxKeysPerWorkspace keys.
   */
  async list(s: Scope, opts: { keyword?: string; offset: number; limit: number }): Promise<{ total: number; items: SwitchConfig[] }> {
    const { knex } = this.deps.db;
    const scoped = () => knex('switch_configs').where({ app_id: s.appId, workspace_id: s.workspaceId });
    let total: number;
    let rows: Array<Record<string, any>>;
    if (opts.keyword) {
      const word = opts.keyword.toLowerCase();
      const all = await scoped().orderBy('id', 'desc').select('id', 'config_key', 'note');
      const hits = all.filter((r) => String(r.config_key).toLowerCase().includes(word) || String(r.note).toLowerCase().includes(word));
      total = hits.length;
      const page = hits.slice(opts.offset, opts.offset + opts.limit).map((r) => num(r.id));
      rows = page.length ? await knex('switch_configs').whereIn('id', page).orderBy('id', 'desc').select() : [];
    } else {
      const [countRow, found] = await Promise.all([scoped().count({ n: '*' }).first(), scoped().orderBy('id', 'desc').offset(opts.offset).limit(opts.limit).select()]);
      total = num(countRow?.n);
      rows = found;
    }
    const ids = rows.map((r) => num(r.id));
    const byConfig = new Map<number, SwitchValue[]>();
    if (ids.length) {
      const vals = await knex('switch_config_values').whereIn('config_id', ids).orderBy(['config_id', 'position']).select();
      for (const v of vals) {
        const id = num(v.config_id);
        if (!byConfig.has(id)) byConfig.set(id, []);
        byConfig.get(id)!.push(toValue(v));
      }
    }
    return {
      total,
      items: rows.map((r) => ({
        id: num(r.id),
        key: String(r.config_key),
        note: String(r.note),
        enabled: num(r.enabled) === 1,
        creator: String(r.creator),
        modifier: String(r.modifier),
        createdAt: num(r.created_at),
        modifiedAt: num(r.modified_at),
        values: byConfig.get(num(r.id)) ?? [],
      })),
    };
  }
}
