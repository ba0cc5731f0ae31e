import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import { AdmissionCache } from '../delivery/admissions.js';
import type { ClientKeys, DeviceScope } from '../delivery/client-keys.js';
import { admitDevice, failWith, queryStart, readDeviceRequest, send, type DeviceEndpoint } from '../delivery/device-io.js';
import { BadDeviceRequest, parseCheck, str, type Fields } from '../delivery/device-request.js';
import { decideApp } from '../delivery/engine/decide.js';
import type { DeviceRateLimiter } from '../delivery/rate-limit.js';
import { createPlanCache } from '../delivery/plan-cache.js';
import type { LoaderCaches } from '../delivery/snapshot-loader.js';
import type { StampWatcherHooks } from '../delivery/stamp-watcher.js';
import { loadUpgradePlans, type UpgradePlans } from './upgrade-plans.js';

export const UPGRADE_CHECK_PATH = '/device/upgrade/check';
const MAX_BODY = 16 * 1024;
// upgradeType as well: the iOS SDK's callback dictionary (guide §4.2.2) carries it, 201 = AliUpgradeNewVersion
const NO_UPGRADE = JSON.stringify({ resultCode: 100, resultStatus: 201, upgradeType: 201 });

/** what each app/workspace keeps across plan builds */
interface Kept {
  admissions: AdmissionCache;
  /** compiled whitelists of the last build, reused while they do not change */
  caches: Pick<LoaderCaches, 'whitelists'>;
}

export interface UpgradeCheckService {
  /** handles the upgrade check path; false for every other path */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** a change committed on this node: the next check rebuilds */
  onChange(appId: string, workspaceId: string): void;
  /** what the node's stamp watcher calls: a change made on another node marks the plans for a rebuild */
  stampHooks: StampWatcherHooks;
  /** waits for plan builds in flight and stops the admission caches' timers (before the database closes) */
  drain(): Promise<void>;
}

/**
 * The device-facing upgrade check (guide §4.3): which new version a device of
 * a platform, client version and user should be told about, with the upgrade
 * mode (202 single reminder, 204 multiple, 206 forced; 201 nothing new) and
 * the silence period. The choice is the delivery engine's (engine/select.ts
 * via decideApp: whitelists, time-window admissions, advanced rules, then
 * higher version > Official > Whitelist gray > Time-window gray > latest task),
 * over the releasing upgrade tasks compiled by upgrade-plans.ts; the device's
 * client version plays the part of the installed version.
 */
/** `keys` and `limiter`: the node's client-key cache and device limits, shared with the H5 package check. */
export function createUpgradeCheck(deps: Deps, keys: ClientKeys, limiter: DeviceRateLimiter): UpgradeCheckService {
  const cache = createPlanCache<UpgradePlans, Kept>(
    deps,
    'upgrade',
    () => ({ caches: { whitelists: new Map() }, admissions: new AdmissionCache(deps.db, deps.now, deps.log, { admissions: 'upgrade_admissions', tasks: 'upgrade_tasks' }) }),
    (appId, workspaceId, kept) => loadUpgradePlans(deps, appId, workspaceId, kept.admissions, kept.caches),
  );

  /** A known device within its rate: the engine over the releasing upgrade tasks of its platform. */
  const answer = async (res: ServerResponse, fields: Fields, scope: DeviceScope, userKey: string): Promise<void> => {
    const { check } = parseCheck({ ...fields, query: undefined, existed: undefined }, userKey, deps.now());
    // iOS only: Android clients may send their own channel (Nebula's "official" / "rc"), which means nothing here
    const channel = check.platform === 'ios' ? str(fields, 'channel').toLowerCase() : '';
    if (channel !== '' && channel !== 'appstore' && channel !== 'enterprise') throw new BadDeviceRequest('channel must be appstore or enterprise on iOS (empty: appstore)');
    const {
      plans,
      extra: { admissions },
    } = await cache.current(scope.appId, scope.workspaceId);
    const tasks = check.platform === 'android' ? plans.android : channel === 'enterprise' ? plans.iosEnterprise : plans.ios;
    const d = await decideApp(tasks, check, check.client, '', admissions, (task, err) => deps.log.warn('upgrade time-window admission failed', { taskId: task.id, error: err.message }));
    send(res, 200, d.kind === 'deliver' ? d.task.entry.text : NO_UPGRADE);
  };

  const endpoint: DeviceEndpoint = {
    maxBody: MAX_BODY,
    fail: failWith(deps.log, 'upgrade check failed'),
    run: (req, res, fields) => admitDevice(keys, limiter, req, res, fields, answer),
  };

  return {
    drain: () => cache.drain((kept) => kept.admissions.clear()),
    onChange: cache.onChange,
    stampHooks: cache.stampHooks,
    handle(req, res) {
      const q = queryStart(req.url ?? '/', UPGRADE_CHECK_PATH);
      if (q === null) return false;
      readDeviceRequest(endpoint, req, res, q);
      return true;
    },
  };
}
