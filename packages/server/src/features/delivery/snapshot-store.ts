import type { Deps } from '../../core/registry.js';
import { AdmissionCache } from './admissions.js';
import { scopeKey as key } from './client-keys.js';
import type { Snapshot } from './snapshot.js';
import { loadSnapshot, newLoaderCaches, readStamps, type LoaderCaches } from './snapshot-loader.js';

/** One app/workspace: its current snapshot and what it takes to rebuild it. */
export interface Holder {
  appId: string;
  workspaceId: string;
  current: Snapshot | null;
  /** bumped by every known change; `current` shows all changes up to `builtGen` */
  wantedGen: number;
  builtGen: number;
  building: Promise<void> | null;
  refreshAt: number;
  lastUsed: number;
  caches: LoaderCaches;
  admissions: AdmissionCache;
}

/** A holder with a snapshot to answer from (its admission cache belongs to the same app/workspace). */
export type ServingHolder = Holder & { current: Snapshot };

const serving = (h: Holder): ServingHolder | null => (h.current ? (h as ServingHolder) : null);

/** How long a request waits for a rebuild after a change before it is answered from the previous snapshot. */
const STALE_WAIT_MS = 1000;
/** Snapshots nobody asked for during this long are dropped (rebuilt on the next request). */
const IDLE_MS = 15 * 60_000;

/**
 * The per-node set of snapshots. Every change (local onChange, NOTIFY, stamp
 * poll, presigned URLs reaching half-life) moves a holder's wanted generation
 * and starts a rebuild at once; requests that arrive before the snapshot
 * shows it wait for it (bounded), so a pause or end is not served stale.
 */
export class SnapshotStore {
  private readonly holders = new Map<string, Holder>();
  /** set by drain: no build starts any more */
  private closed = false;

  constructor(private readonly deps: Deps) {
    deps.metrics.sources.deliverySnapshots = () => this.holders.size;
  }

  /** The holder to answer from; null when no snapshot could be built. */
  async get(appId: string, workspaceId: string): Promise<ServingHolder | null> {
    const h = this.holder(appId, workspaceId);
    h.lastUsed = this.deps.now();
    if (h.current && h.builtGen >= h.wantedGen) return serving(h);
    const build = h.building ?? this.rebuild(h);
    if (!h.current) {
      await build;
      return serving(h);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([build, new Promise<void>((r) => (timer = setTimeout(r, STALE_WAIT_MS)))]);
    clearTimeout(timer);
    return serving(h);
  }

  /** The holder when its snapshot is up to date (the hot path: no promise); null when get() must be awaited. `k` is scopeKey(appId, workspaceId). */
  ready(k: string): ServingHolder | null {
    const h = this.holders.get(k);
    if (!h || !h.current || h.builtGen < h.wantedGen) return null;
    h.lastUsed = this.deps.now();
    return h as ServingHolder;
  }

  /** A change committed on this node (or announced by NOTIFY): rebuild now. */
  invalidate(appId: string, workspaceId: string): void {
    const h = this.holders.get(key(appId, workspaceId));
    if (!h) return;
    h.wantedGen++;
    void this.rebuild(h);
  }

  /** A NOTIFY: rebuild when the stamp (read by the watcher) is not the snapshot's. */
  async notified(appId: string, workspaceId: string, stamp: () => Promise<number>): Promise<void> {
    const h = this.holders.get(key(appId, workspaceId));
    if (!h || !h.current) return;
    if ((await stamp()) !== h.current.stamp) this.invalidate(appId, workspaceId);
  }

  /** Safety net: one query over change_stamps, then rebuild what moved, re-sign what is at half-life, drop what is idle. */
  async poll(): Promise<void> {
    if (this.holders.size === 0) return;
    const now = this.deps.now();
    for (const [k, h] of this.holders) {
      if (now - h.lastUsed > IDLE_MS && !h.building && h.caches.reading.size === 0) this.holders.delete(k);
    }
    if (this.holders.size === 0) return;
    const stamps = await readStamps(this.deps, [...this.holders.values()].map((h) => h.appId));
    for (const [k, h] of this.holders) {
      if (!h.current || h.building) continue;
      if ((stamps.get(k) ?? 0) !== h.current.stamp || now >= h.refreshAt) h.wantedGen++;
      if (h.builtGen < h.wantedGen) void this.rebuild(h);
    }
  }

  /** Waits for builds in flight and stops the admission caches' timers (before the database closes). */
  async drain(): Promise<void> {
    this.closed = true;
    // a build in flight may start a background read, and a read that is in starts no build once closed
    for (;;) {
      const pending = [...this.holders.values()].flatMap((h) => [h.building, ...h.caches.reading.values()]).filter(Boolean);
      if (pending.length === 0) break;
      await Promise.all(pending);
    }
    for (const h of this.holders.values()) h.admissions.clear();
  }

  private holder(appId: string, workspaceId: string): Holder {
    const k = key(appId, workspaceId);
    let h = this.holders.get(k);
    if (!h) {
      h = {
        appId,
        workspaceId,
        current: null,
        wantedGen: 1,
        builtGen: 0,
        building: null,
        refreshAt: Infinity,
        lastUsed: this.deps.now(),
        caches: newLoaderCaches(),
        admissions: new AdmissionCache(this.deps.db, this.deps.now, this.deps.log),
      };
      const held = h;
      // a big whitelist read in the background is in: build again with it
      held.caches.onLoaded = () => {
        if (this.closed) return;
        held.wantedGen++;
        void this.rebuild(held);
      };
      this.holders.set(k, h);
    }
    return h;
  }

  /** One build at a time per holder; it loops while changes arrived during the previous round. */
  private rebuild(h: Holder): Promise<void> {
    if (h.building) return h.building;
    h.building = (async () => {
      while (h.builtGen < h.wantedGen) {
        const gen = h.wantedGen;
        const started = Date.now();
        const loaded = await loadSnapshot(this.deps, h.appId, h.workspaceId, h.caches, h.admissions);
        this.deps.metrics.snapshotBuilt((Date.now() - started) / 1000);
        h.current = loaded.snapshot;
        h.refreshAt = loaded.refreshAt;
        h.builtGen = gen;
        this.deps.log.log('debug', 'delivery snapshot built', {
          appId: h.appId,
          workspaceId: h.workspaceId,
          stamp: loaded.snapshot.stamp,
          apps: loaded.snapshot.apps.size,
          ms: Date.now() - started,
        });
      }
    })()
      .catch((err: Error) => {
        // keep serving the previous snapshot; the next poll tries again
        this.deps.metrics.snapshotFailed();
        this.deps.log.error('delivery snapshot build failed', { appId: h.appId, workspaceId: h.workspaceId, error: err.message });
      })
      .finally(() => {
        h.building = null;
      });
    return h.building;
  }
}
