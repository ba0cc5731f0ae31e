import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import type { ClientKeys } from './client-keys.js';
import { createDeviceHandler } from './device-handler.js';
import { DeviceRateLimiter } from './rate-limit.js';
import { SnapshotStore } from './snapshot-store.js';
import { startStampWatcher, type StampWatcher } from './stamp-watcher.js';

export interface DeliveryService {
  /** handles /device/* requests; false when the path is not a device path */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  onChange(appId: string, workspaceId: string): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The device-facing delivery service of one node: the update endpoint, the
 * per-app snapshots it answers from, and the watcher that keeps them current
 * (LISTEN/NOTIFY on PostgreSQL, a stamp poll everywhere).
 */
/** `keys`: the node's client-key cache, shared with the upgrade check. */
export function createDelivery(deps: Deps, keys: ClientKeys): DeliveryService {
  const store = new SnapshotStore(deps);
  const handle = createDeviceHandler({
    deps,
    store,
    keys,
    limiter: new DeviceRateLimiter(deps.config.delivery.deviceRatePerMin, deps.now),
  });
  let watcher: StampWatcher | null = null;
  return {
    handle,
    onChange: (appId, workspaceId) => store.invalidate(appId, workspaceId),
    async start() {
      watcher ??= startStampWatcher(deps, {
        poll: () => store.poll(),
        notified: (appId, workspaceId) => {
          store.notified(appId, workspaceId).catch((err: Error) => deps.log.warn('delivery stamp check failed', { appId, workspaceId, error: err.message }));
        },
      });
    },
    async stop() {
      await watcher?.stop();
      watcher = null;
      await store.drain();
    },
  };
}
