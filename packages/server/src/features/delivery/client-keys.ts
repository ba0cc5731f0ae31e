import type { Database } from '../../db/database.js';
import { num } from '../../db/database.js';
import { readStamps } from './snapshot-loader.js';
import type { StampWatcherHooks } from './stamp-watcher.js';
import { ownCopy } from './text-cache.js';

export interface DeviceScope {
  appId: string;
  workspaceId: string;
  /** scopeKey(appId, workspaceId), built once per cached key */
  key: string;
}

/** The key of an app/workspace in the per-node maps (snapshots, rate counters). */
export const scopeKey = (appId: string, workspaceId: string): string => appId + '\u0000' + workspaceId;

const HIT_TTL_MS = 5 * 60_000;
const MISS_TTL_MS = 30_000;
/** how long a known key is kept again when the database cannot be asked (the next failure extends it again) */
const STALE_TTL_MS = 30_000;
const MAX_CACHED = 100_000;
const KEY_SHAPE = /^[\x21-\x7e]{1,128}$/;

/**
 * Maps a workspace's public client key (workspaces.client_key) to its app and
 * workspace. Answers come from memory; a key is looked up in the database at
 * most once per 5 minutes (30 s for unknown keys), so guessing keys cannot
 * turn into a query per request.
 */
export class ClientKeys {
  /** `end`: a replaced key's end of grace, past which it is never served again */
  private cache = new Map<string, { scope: DeviceScope | null; until: number; end?: number }>();
  private readonly inFlight = new Map<string, Promise<DeviceScope | null>>();
  /**
   * The workspaces of cached keys, with the change stamp read together with
   * the key: a rotation moves the stamp (tenant-store.ts), and when the node's
   * stamp watcher sees it move the workspace's keys are looked up again, so a
   * key rotated out (grace 0) stops on every node within the poll interval,
   * not after the cache period.
   */
  private scopes = new Map<string, { appId: string; stamp: number; keys: Set<string> }>();

  /** what the node's stamp watcher calls (app.ts) */
  readonly stampHooks: StampWatcherHooks = {
    poll: async () => {
      if (this.scopes.size === 0) return;
      const stamps = await readStamps({ db: this.db }, [...this.scopes.values()].map((s) => s.appId));
      for (const [k, s] of this.scopes) if ((stamps.get(k) ?? 0) !== s.stamp) this.forget(k);
    },
    notified: (appId, workspaceId, stamp) => {
      const k = scopeKey(appId, workspaceId);
      const known = this.scopes.get(k);
      if (!known) return;
      stamp()
        .then((now) => {
          if (this.scopes.get(k) === known && now !== known.stamp) this.forget(k);
        })
        .catch(() => {});
    },
  };

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  resolve(key: string): DeviceScope | null | Promise<DeviceScope | null> {
    // only well-formed keys are ever cached, so a hit needs no shape check
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.scope;
    if (!KEY_SHAPE.test(key)) return null;
    let p = this.inFlight.get(key);
    if (!p) {
      // what the lookup caches (misses too) must not keep the request it came in alive
      const own = ownCopy(key);
      p = this.lookup(own).finally(() => this.inFlight.delete(own));
      this.inFlight.set(own, p);
    }
    return p;
  }

  /**
   * Looks a key up. When the database cannot answer, a key known before keeps
   * working (devices are served from memory through an outage; the answer for
   * a key may be at most one cache period old anyway); an unknown key fails.
   */
  private async lookup(key: string): Promise<DeviceScope | null> {
    try {
      return await this.fromDatabase(key);
    } catch (err) {
      const now = this.now();
      const known = this.cache.get(key);
      if (!known?.scope || (known.end !== undefined && known.end <= now)) throw err;
      known.until = Math.min(now + STALE_TTL_MS, known.end ?? Infinity);
      return known.scope;
    }
  }

  private async fromDatabase(key: string): Promise<DeviceScope | null> {
    const now = this.now();
    // the current key, or the one it replaced while its grace lasts (admin: workspaces rotate-client-key)
    // the workspace's change stamp in the same statement: a rotation committed after it moves the stamp
    const row = await this.db
      .knex('workspaces as w')
      .leftJoin('change_stamps as s', (j) => j.on('s.app_id', 'w.app_id').andOn('s.workspace_id', 'w.workspace_id'))
      .where('w.client_key', key)
      .orWhere((q) => q.where('w.previous_client_key', key).andWhere('w.previous_key_expires_at', '>', now))
      .first('w.app_id', 'w.workspace_id', 'w.client_key', 'w.previous_key_expires_at', 's.stamp');
    const scope = row ? { appId: String(row.app_id), workspaceId: String(row.workspace_id), key: scopeKey(String(row.app_id), String(row.workspace_id)) } : null;
    // a replaced key is not remembered past the end of its grace
    const end = scope && row.client_key !== key ? Number(row.previous_key_expires_at) : undefined;
    const until = !scope ? now + MISS_TTL_MS : Math.min(now + HIT_TTL_MS, end ?? Infinity);
    if (this.cache.size >= MAX_CACHED) {
      this.cache = new Map();
      this.scopes = new Map();
    }
    if (scope) {
      const stamp = row.stamp === null || row.stamp === undefined ? 0 : num(row.stamp);
      // keys cached under another stamp were read before a change (a rotation, say): look them up again,
      // never carry them over to this stamp, where the next poll would no longer see the change
      if (this.scopes.get(scope.key)?.stamp !== stamp) this.forget(scope.key);
      const known = this.scopes.get(scope.key);
      if (known) known.keys.add(key);
      else this.scopes.set(scope.key, { appId: scope.appId, stamp, keys: new Set([key]) });
    }
    this.cache.set(key, { scope, until, end });
    return scope;
  }

  /** Drops the cached keys of one workspace: the next request looks them up again. */
  private forget(k: string): void {
    const known = this.scopes.get(k);
    if (!known) return;
    for (const key of known.keys) this.cache.delete(key);
    this.scopes.delete(k);
  }
}
