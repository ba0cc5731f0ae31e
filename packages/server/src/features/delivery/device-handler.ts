import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import { errorBody, renderAnswer, type Piece } from './answer.js';
import type { ClientKeys, DeviceScope } from './client-keys.js';
import { admitDevice, andThen, failWith, readDeviceRequest, send, sendMeasured, type DeviceEndpoint, type Maybe } from './device-io.js';
import { parseCheck, type Fields, type ParsedCheck } from './device-request.js';
import { decideApp, type AdmissionPort } from './engine/decide.js';
import { selectForApp, type AppDecision } from './engine/select.js';
import type { DeviceRateLimiter } from './rate-limit.js';
import type { Snapshot, TaskPlan } from './snapshot.js';
import type { ServingHolder, SnapshotStore } from './snapshot-store.js';

export const DEVICE_UPDATE_PATH = '/device/nebula/update';
/** Device requests are small (a few hundred installed apps at most). */
const MAX_DEVICE_BODY = 64 * 1024;

export interface DeviceHandlerParts {
  deps: Deps;
  store: SnapshotStore;
  keys: ClientKeys;
  limiter: DeviceRateLimiter;
}

/**
 * The device endpoint, served straight from node:http (app.ts dispatches
 * /device/* before express). Per request: parse, the key lookup and the rate
 * counter in memory, then the engine over the in-memory snapshot. The path
 * stays synchronous (no promise) unless the key is not cached yet, the
 * snapshot is being rebuilt, or a NEW user is admitted to a time window, the
 * only database work a check may cause.
 */
export function createDeviceHandler(parts: DeviceHandlerParts): (req: IncomingMessage, res: ServerResponse) => boolean {
  const serve = (res: ServerResponse, fields: Fields, scope: DeviceScope, userKey: string) => check(parts, res, fields, scope, userKey);
  const endpoint: DeviceEndpoint = {
    maxBody: MAX_DEVICE_BODY,
    fail: failWith(parts.deps.log, 'device update failed'),
    run: (req, res, fields) => admitDevice(parts.keys, parts.limiter, req, res, fields, serve),
  };
  return (req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/device/')) return false;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path !== DEVICE_UPDATE_PATH) {
      req.resume();
      send(res, 404, errorBody(404, 'No such device endpoint.'));
      return true;
    }
    readDeviceRequest(endpoint, req, res, q);
    return true;
  };
}

/** A known device within its rate: the engine over the app/workspace's snapshot. */
function check(parts: DeviceHandlerParts, res: ServerResponse, fields: Fields, scope: DeviceScope, userKey: string): Maybe<void> {
  const { deps, store } = parts;
  const parsed = parseCheck(fields, userKey, deps.now());
  const held: Maybe<ServingHolder | null> = store.ready(scope.key) ?? store.get(scope.appId, scope.workspaceId);
  return andThen(held, (h) => {
    if (!h) return send(res, 503, errorBody(503, 'Delivery data is not available yet; retry later.'));
    return andThen(answer(parts, h.current, h.admissions, parsed), (out) => sendMeasured(res, 200, out.text, out.bytes));
  });
}

interface Chosen {
  entries: TaskPlan[];
  discard: Array<[string, string]>;
}

/** Runs the engine for every asked app; turns async only to admit a new user to a time window. */
function answer(parts: DeviceHandlerParts, snap: Snapshot, port: AdmissionPort, p: ParsedCheck): Maybe<Piece> {
  const ids = p.asked === 'all' ? snap.appOrder : p.asked;
  const chosen: Chosen = { entries: [], discard: [] };
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const plans = snap.apps.get(id);
    if (!plans) continue;
    const inst = p.installed.get(id);
    const d = selectForApp(plans, p.check, inst ? inst.version : null, inst ? inst.text : '', port.verdict);
    if (d.kind === 'admit') return admitting(parts, snap, p, port, ids, i, chosen);
    take(chosen, id, d);
  }
  return renderAnswer(snap.head, chosen.entries, chosen.discard, removals(snap, p));
}

const NO_REMOVALS: string[] = [];

/** Installed H5 apps that were deleted here (DeleteMcubeNebulaApp) and release nothing now: the device removes them. */
function removals(snap: Snapshot, p: ParsedCheck): string[] {
  if (snap.removed.size === 0) return NO_REMOVALS;
  const out: string[] = [];
  for (const id of p.installed.keys()) if (snap.removed.has(id)) out.push(id);
  return out;
}

/** The rest of answer() once an admission is needed. */
async function admitting(parts: DeviceHandlerParts, snap: Snapshot, p: ParsedCheck, port: AdmissionPort, ids: readonly string[], from: number, chosen: Chosen): Promise<Piece> {
  const onError = (task: TaskPlan, err: Error) => parts.deps.log.warn('time-window admission failed', { taskId: task.id, error: err.message });
  for (let i = from; i < ids.length; i++) {
    const id = ids[i]!;
    const plans = snap.apps.get(id);
    if (!plans) continue;
    const inst = p.installed.get(id);
    take(chosen, id, await decideApp(plans, p.check, inst ? inst.version : null, inst ? inst.text : '', port, onError));
  }
  return renderAnswer(snap.head, chosen.entries, chosen.discard, removals(snap, p));
}

function take(chosen: Chosen, id: string, d: AppDecision): void {
  if (d.kind !== 'deliver') return;
  chosen.entries.push(d.task);
  if (d.discard !== null) chosen.discard.push([id, d.discard]);
}
