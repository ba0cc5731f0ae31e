import type { Database } from '../../db/database.js';

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
      p = this.lookup(key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
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
    const row = await this.db
      .knex('workspaces')
      .where({ client_key: key })
      .orWhere((q) => q.where({ previous_client_key: key }).andWhere('previous_key_expires_at', '>', now))
      .first('app_id', 'workspace_id', 'client_key', 'previous_key_expires_at');
    const scope = row ? { appId: String(row.app_id), workspaceId: String(row.workspace_id), key: scopeKey(String(row.app_id), String(row.workspace_id)) } : null;
    // a replaced key is not remembered past the end of its grace
    const end = scope && row.client_key !== key ? Number(row.previous_key_expires_at) : undefined;
    const until = !scope ? now + MISS_TTL_MS : Math.min(now + HIT_TTL_MS, end ?? Infinity);
    if (this.cache.size >= MAX_CACHED) this.cache = new Map();
    this.cache.set(key, { scope, until, end });
    return scope;
  }
}
