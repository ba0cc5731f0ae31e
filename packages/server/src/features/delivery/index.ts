import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import type { ClientKeys } from './client-keys.js';
import { createDeviceHandler } from './device-handler.js';
import type { DeviceRateLimiter } from './rate-limit.js';
import { SnapshotStore } from './snapshot-store.js';
import type { StampWatcherHooks } from './stamp-watcher.js';

export interface DeliveryService {
  /** handles /device/* requests; false when the path is not a device path */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  onChange(appId: string, workspaceId: string): void;
  /** what the node's stamp watcher (stamp-watcher.ts) calls */
  stampHooks: StampWatcherHooks;
  /** waits for snapshot builds in flight (before the database closes) */
  drain(): Promise<void>;
}

/**
 * The device-facing delivery service of one node: the update endpoint and
 * the per-app snapshots it answers from. The node's stamp watcher keeps them
 * current through `stampHooks` (LISTEN/NOTIFY on PostgreSQL, a stamp poll
 * everywhere).
 */
/** `keys` and `limiter`: the node's client-key cache and device limits, shared with the upgrade check. */
export function createDelivery(deps: Deps, keys: ClientKeys, limiter: DeviceRateLimiter): DeliveryService {
  const store = new SnapshotStore(deps);
  const handle = createDeviceHandler({ deps, store, keys, limiter });
  return {
    handle,
    onChange: (appId, workspaceId) => store.invalidate(appId, workspaceId),
    stampHooks: {
      poll: () => store.poll(),
      notified: (appId, workspaceId, stamp) => {
        store.notified(appId, workspaceId, stamp).catch((err: Error) => deps.log.warn('delivery stamp check failed', { appId, workspaceId, error: err.message }));
      },
    },
    drain: () => store.drain(),
  };
}
