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
const MAX_CACHED = 100_000;
const KEY_SHAPE = /^[\x21-\x7e]{1,128}$/;

/**
 * Maps a workspace's public client key (workspaces.client_key) to its app and
 * workspace. Answers come from memory; a key is looked up in the database at
 * most once per 5 minutes (30 s for unknown keys), so guessing keys cannot
 * turn into a query per request.
 */
export class ClientKeys {
  private cache = new Map<string, { scope: DeviceScope | null; until: number }>();
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

  private async lookup(key: string): Promise<DeviceScope | null> {
    const now = this.now();
    // the current key, or the one it replaced while its grace lasts (admin: workspaces rotate-client-key)
    const row = await this.db
      .knex('workspaces')
      .where({ client_key: key })
      .orWhere((q) => q.where({ previous_client_key: key }).andWhere('previous_key_expires_at', '>', now))
      .first('app_id', 'workspace_id', 'client_key', 'previous_key_expires_at');
    const scope = row ? { appId: String(row.app_id), workspaceId: String(row.workspace_id), key: scopeKey(String(row.app_id), String(row.workspace_id)) } : null;
    // a replaced key is not remembered past the end of its grace
    const until = !scope ? now + MISS_TTL_MS : row.client_key === key ? now + HIT_TTL_MS : Math.min(now + HIT_TTL_MS, Number(row.previous_key_expires_at));
    if (this.cache.size >= MAX_CACHED) this.cache = new Map();
    this.cache.set(key, { scope, until });
    return scope;
  }
}
