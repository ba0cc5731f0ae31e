import type { Deps } from '../../core/registry.js';
import { scopeKey } from './client-keys.js';
import { readStamps } from './snapshot-loader.js';
import type { StampWatcherHooks } from './stamp-watcher.js';

/** What a build gives: the change stamp read before its rows, and when it must be rebuilt anyway (signed links, expiries). */
export interface BuiltPlans {
  stamp: number;
  refreshAt: number;
}

interface Held<P, X> {
  appId: string;
  plans: P | null;
  building: Promise<P> | null;
  /** builds started so far: the one running, if any, is number `started` */
  started: number;
  dirty: boolean;
  /** per app/workspace state kept across builds (admission caches, compiled whitelists) */
  extra: X;
}

export interface PlanCache<P extends BuiltPlans, X> {
  /** the plans of the app/workspace once they are up to date, with its kept state */
  current(appId: string, workspaceId: string): Promise<{ plans: P; extra: X }>;
  /** a change committed on this node: the next request rebuilds */
  onChange(appId: string, workspaceId: string): void;
  /** what the node's stamp watcher calls: a change made on another node marks the plans for a rebuild */
  stampHooks: StampWatcherHooks;
  /** waits for builds in flight, then hands every kept state to `release` */
  drain(release?: (extra: X) => void): Promise<void>;
}

/**
 * Per app/workspace plans for a device endpoint that answers from memory (the
 * upgrade check, the switch pull): rebuilt after a change made here
 * (onChange), one the stamp watcher saw (NOTIFY, or its poll every
 * MCUBE_STAMP_POLL_MS), or at `refreshAt`; no stamp read on the request path.
 */
export function createPlanCache<P extends BuiltPlans, X>(
  deps: Deps,
  what: string,
  keep: (appId: string) => X,
  build: (appId: string, workspaceId: string, extra: X) => Promise<P>,
): PlanCache<P, X> {
  const held = new Map<string, Held<P, X>>();

  const holder = (appId: string, workspaceId: string): Held<P, X> => {
    const k = scopeKey(appId, workspaceId);
    let h = held.get(k);
    if (!h) {
      if (held.size > 10_000) held.clear();
      h = { appId, plans: null, building: null, started: 0, dirty: true, extra: keep(appId) };
      held.set(k, h);
    }
    return h;
  };

  /** plans built from an older stamp than `stamp` are rebuilt by the next request */
  const moved = (h: Held<P, X>, stamp: number) => {
    if (h.plans && stamp !== h.plans.stamp) h.dirty = true;
  };

  return {
    async current(appId, workspaceId) {
      const h = holder(appId, workspaceId);
      const arrivedAfter = h.started;
      // every request that comes while a rebuild runs waits for it, not only the one that started it, and a change
      // that arrives during a build (dirty again) is built before the request is answered. But a build that started
      // after the request arrived holds every change committed before it: that one answers it, changed since or
      // not, or a steady stream of changes (an editor, a pipeline) kept a request waiting for as long as it lasted.
      for (;;) {
        if (h.plans && !h.dirty && !h.building && deps.now() < h.plans.refreshAt) return { plans: h.plans, extra: h.extra };
        if (!h.building) {
          h.dirty = false;
          h.started++;
          h.building = build(appId, workspaceId, h.extra)
            .then((p) => (h.plans = p))
            .catch((err) => {
              h.dirty = true;
              throw err;
            })
            .finally(() => {
              h.building = null;
            });
        }
        const no = h.started;
        await h.building;
        if (!h.dirty || no > arrivedAfter) return { plans: h.plans!, extra: h.extra };
      }
    },
    onChange(appId, workspaceId) {
      const h = held.get(scopeKey(appId, workspaceId));
      if (h) h.dirty = true;
    },
    stampHooks: {
      async poll() {
        const live = [...held].filter(([, h]) => h.plans && !h.dirty);
        if (live.length === 0) return;
        const stamps = await readStamps(deps, live.map(([, h]) => h.appId));
        for (const [k, h] of live) moved(h, stamps.get(k) ?? 0);
      },
      notified(appId, workspaceId, stamp) {
        const h = held.get(scopeKey(appId, workspaceId));
        if (!h?.plans || h.dirty) return;
        stamp()
          .then((s) => moved(h, s))
          .catch((err: Error) => deps.log.warn(`${what} stamp check failed`, { appId, workspaceId, error: err.message }));
      },
    },
    async drain(release) {
      await Promise.allSettled([...held.values()].map((h) => h.building));
      if (release) for (const h of held.values()) release(h.extra);
    },
  };
}
