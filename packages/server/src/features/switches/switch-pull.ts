import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import type { ClientKeys, DeviceScope } from '../delivery/client-keys.js';
import { admitDevice, failWith, queryStart, readDeviceRequest, sendMeasured, type DeviceEndpoint } from '../delivery/device-io.js';
import { BadDeviceRequest, parseCheck, type Fields } from '../delivery/device-request.js';
import { matchesTask } from '../delivery/engine/select.js';
import { createPlanCache } from '../delivery/plan-cache.js';
import type { DeviceRateLimiter } from '../delivery/rate-limit.js';
import type { LoaderCaches } from '../delivery/snapshot-loader.js';
import type { StampWatcherHooks } from '../delivery/stamp-watcher.js';
import type { TaskPlan } from '../delivery/snapshot.js';
import { loadSwitchPlans, type SwitchPlans } from './switch-plans.js';

export const SWITCH_PULL_PATH = '/device/config/pull';
// 200 keys of 128 characters, form-encoded, with the device fields
const MAX_BODY = 64 * 1024;
const MAX_ASKED = 200;
const HEAD = '{"resultCode":100,"data":{';
const TAIL = '}}';
const HEAD_TAIL_BYTES = Buffer.byteLength(HEAD) + Buffer.byteLength(TAIL);

export interface SwitchPullService {
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  onChange(appId: string, workspaceId: string): void;
  stampHooks: StampWatcherHooks;
  drain(): Promise<void>;
}

/** `keys`: comma-separated text, or (in a JSON body) an array of keys; null when absent (every key). */
function askedKeys(raw: unknown): string[] | null {
  if (raw === undefined || raw === null || raw === '') return null;
  const parts = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) && raw.every((k) => typeof k === 'string') ? (raw as string[]) : null;
  if (!parts) throw new BadDeviceRequest('keys must be comma-separated switch keys (or, in JSON, an array of them)');
  return [...new Set(parts.map((k) => k.trim()))].filter((k) => k !== '');
}

/** The value of a key this device gets: the first value it matches, else none (the client keeps its default). */
function pick(values: readonly TaskPlan[], check: Parameters<typeof matchesTask>[1]): TaskPlan | null {
  for (let i = 0; i < values.length; i++) if (matchesTask(values[i]!, check)) return values[i]!;
  return null;
}

/**
 * The device side of switch configuration (guide §6): a client pulls the
 * values of the enabled keys that apply to it, `{"resultCode":100,"data":
 * {"key":"value",...}}`. Same request fields, client key and rate limit as
 * the package and upgrade checks; `keys` (comma-separated) narrows the answer.
 * Answered from plans in memory, rebuilt when the change stamp moves.
 */
export function createSwitchPull(deps: Deps, keys: ClientKeys, limiter: DeviceRateLimiter): SwitchPullService {
  const cache = createPlanCache<SwitchPlans, Pick<LoaderCaches, 'whitelists'>>(
    deps,
    'switch',
    () => ({ whitelists: new Map() }),
    (appId, workspaceId, caches) => loadSwitchPlans(deps, appId, workspaceId, caches),
  );

  const answer = async (res: ServerResponse, fields: Fields, scope: DeviceScope, userKey: string): Promise<void> => {
    const { check } = parseCheck({ ...fields, query: undefined, existed: undefined }, userKey, deps.now(), { clientRequired: false });
    const asked = askedKeys(fields.keys);
    if (asked && asked.length > MAX_ASKED) throw new BadDeviceRequest(`keys names ${asked.length} keys; at most ${MAX_ASKED} are allowed`);
    const { plans } = await cache.current(scope.appId, scope.workspaceId);
    const parts: string[] = [];
    let bytes = HEAD_TAIL_BYTES;
    const add = (values: readonly TaskPlan[] | undefined) => {
      const hit = values ? pick(values, check) : null;
      if (!hit) return;
      if (parts.length) bytes++;
      parts.push(hit.entry.text);
      bytes += hit.entry.bytes;
    };
    if (asked) for (const k of asked.sort()) add(plans.byKey.get(k));
    else for (const values of plans.byKey.values()) add(values);
    sendMeasured(res, 200, HEAD + parts.join(',') + TAIL, bytes);
  };

  const endpoint: DeviceEndpoint = {
    maxBody: MAX_BODY,
    fail: failWith(deps.log, 'switch pull failed'),
    run: (req, res, fields) => admitDevice(keys, limiter, req, res, fields, answer),
  };

  return {
    drain: () => cache.drain(),
    onChange: cache.onChange,
    stampHooks: cache.stampHooks,
    handle(req, res) {
      const q = queryStart(req.url ?? '/', SWITCH_PULL_PATH);
      if (q === null) return false;
      readDeviceRequest(endpoint, req, res, q);
      return true;
    },
  };
}
