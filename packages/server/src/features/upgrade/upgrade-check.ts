import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import { AdmissionCache } from '../delivery/admissions.js';
import { errorBody, RESULT_RATE_LIMITED } from '../delivery/answer.js';
import { ClientKeys, scopeKey } from '../delivery/client-keys.js';
import { BadDeviceRequest, fieldsFromForm, fieldsFromJson, parseCheck, str, userKeyOf, type Fields } from '../delivery/device-request.js';
import { decideApp } from '../delivery/engine/decide.js';
import { DeviceRateLimiter } from '../delivery/rate-limit.js';
import { readStamp, type LoaderCaches } from '../delivery/snapshot-loader.js';
import { loadUpgradePlans, type UpgradePlans } from './upgrade-plans.js';

export const UPGRADE_CHECK_PATH = '/device/upgrade/check';
const CLIENT_KEY_HEADER = 'x-mcube-client-key';
const MAX_BODY = 16 * 1024;
const NO_UPGRADE = JSON.stringify({ resultCode: 100, resultStatus: 201 });

interface Held {
  plans: UpgradePlans | null;
  building: Promise<UpgradePlans> | null;
  dirty: boolean;
  admissions: AdmissionCache;
  /** compiled whitelists of the last build, reused while they do not change */
  caches: Pick<LoaderCaches, 'whitelists'>;
}

export interface UpgradeCheckService {
  /** handles the upgrade check path; false for every other path */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** a change committed on this node: the next check rebuilds */
  onChange(appId: string, workspaceId: string): void;
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
export function createUpgradeCheck(deps: Deps): UpgradeCheckService {
  const keys = new ClientKeys(deps.db, deps.now);
  const limiter = new DeviceRateLimiter(deps.config.delivery.deviceRatePerMin, deps.now);
  const held = new Map<string, Held>();

  const holder = (appId: string, workspaceId: string): Held => {
    const k = scopeKey(appId, workspaceId);
    let h = held.get(k);
    if (!h) {
      if (held.size > 10_000) held.clear();
      h = { plans: null, building: null, dirty: true, caches: { whitelists: new Map() }, admissions: new AdmissionCache(deps.db, deps.now, deps.log, { admissions: 'upgrade_admissions', tasks: 'upgrade_tasks' }) };
      held.set(k, h);
    }
    return h;
  };

  const current = async (appId: string, workspaceId: string): Promise<UpgradePlans> => {
    const h = holder(appId, workspaceId);
    const now = deps.now();
    if (h.plans && !h.dirty && now < h.plans.refreshAt) {
      // answers from its plans for one stamp-poll interval (MCUBE_STAMP_POLL_MS, as the H5 snapshots), then compares the
      // change stamp again: a change made on another node shows within that interval; one made here applies at once
      if (now - h.plans.checkedAt < deps.config.delivery.pollIntervalMs) return h.plans;
      if ((await readStamp(deps, appId, workspaceId)) === h.plans.stamp) {
        h.plans.checkedAt = now;
        return h.plans;
      }
    }
    if (!h.building) {
      h.dirty = false;
      h.building = loadUpgradePlans(deps, appId, workspaceId, h.admissions, h.caches)
        .then((p) => (h.plans = p))
        .catch((err) => {
          h.dirty = true;
          throw err;
        })
        .finally(() => {
          h.building = null;
        });
    }
    return h.building;
  };

  const answer = async (req: IncomingMessage, res: ServerResponse, fields: Fields): Promise<void> => {
    const header = req.headers[CLIENT_KEY_HEADER];
    const clientKey = (typeof header === 'string' ? header : '') || str(fields, 'clientKey');
    if (!clientKey) return send(res, 401, errorBody(401, `Missing client key (header ${CLIENT_KEY_HEADER} or field clientKey).`));
    const scope = await keys.resolve(clientKey);
    const appId = str(fields, 'appId');
    const workspaceId = str(fields, 'workspaceId');
    if (!scope || (appId && appId !== scope.appId) || (workspaceId && workspaceId !== scope.workspaceId)) {
      return send(res, 401, errorBody(401, 'Unknown client key, or the key does not belong to this appId/workspaceId.'));
    }
    const userKey = userKeyOf(fields);
    if (!limiter.allow(scope.key, userKey || 'ip:' + (req.socket.remoteAddress ?? ''))) {
      return send(res, 429, errorBody(RESULT_RATE_LIMITED, 'Too many update checks from this device; retry later.'), { 'retry-after': String(limiter.retryAfterSec()) });
    }
    if (!/^\d{1,9}(\.\d{1,9}){0,7}$/.test(str(fields, 'client'))) throw new BadDeviceRequest('client must be the installed client version, e.g. 4.0.0');
    const { check } = parseCheck({ ...fields, query: undefined, existed: undefined }, userKey, deps.now());
    const plans = await current(scope.appId, scope.workspaceId);
    const tasks = check.platform === 'android' ? plans.android : plans.ios;
    const d = await decideApp(tasks, check, check.client, '', plans.admissions, (task, err) => deps.log.warn('upgrade time-window admission failed', { taskId: task.id, error: err.message }));
    send(res, 200, d.kind === 'deliver' ? d.task.entry.text : NO_UPGRADE);
  };

  const fail = (res: ServerResponse, err: unknown) => {
    if (err instanceof BadDeviceRequest) return send(res, err.status, errorBody(err.status, err.message));
    deps.log.error('upgrade check failed', { error: (err as Error).message });
    send(res, 500, errorBody(500, 'Internal error.'));
  };

  return {
    onChange(appId, workspaceId) {
      const h = held.get(scopeKey(appId, workspaceId));
      if (h) h.dirty = true;
    },
    handle(req, res) {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      if ((q < 0 ? url : url.slice(0, q)) !== UPGRADE_CHECK_PATH) return false;
      if (req.method !== 'GET' && req.method !== 'POST') {
        req.resume();
        send(res, 405, errorBody(405, 'Use GET or POST.'), { allow: 'GET, POST' });
        return true;
      }
      let fields: Fields;
      try {
        fields = q < 0 ? {} : fieldsFromForm(url.slice(q + 1));
      } catch (err) {
        req.resume();
        fail(res, err);
        return true;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let refused = false;
      req.on('data', (c: Buffer) => {
        if (refused) return;
        size += c.length;
        if (size > MAX_BODY) {
          refused = true;
          fail(res, new BadDeviceRequest(`The body is larger than ${MAX_BODY} bytes.`, 413));
        } else chunks.push(c);
      });
      req.on('end', () => {
        if (refused) return;
        try {
          const body = Buffer.concat(chunks, size).toString('utf8');
          if (body !== '') {
            if ((req.headers['content-type'] ?? '').includes('json')) fieldsFromJson(body, fields);
            else fieldsFromForm(body, fields);
          }
        } catch (err) {
          fail(res, err);
          return;
        }
        answer(req, res, fields).catch((err) => fail(res, err));
      });
      return true;
    },
  };
}

function send(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}
