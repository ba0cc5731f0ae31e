import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Deps } from '../../core/registry.js';
import { errorBody, renderAnswer, RESULT_RATE_LIMITED, type Piece } from './answer.js';
import type { ClientKeys, DeviceScope } from './client-keys.js';
import { BadDeviceRequest, fieldsFromForm, fieldsFromJson, parseCheck, str, userKeyOf, type Fields, type ParsedCheck } from './device-request.js';
import { decideApp, type AdmissionPort } from './engine/decide.js';
import { selectForApp, type AppDecision } from './engine/select.js';
import type { DeviceRateLimiter } from './rate-limit.js';
import type { Snapshot, TaskPlan } from './snapshot.js';
import type { ServingHolder, SnapshotStore } from './snapshot-store.js';

export const DEVICE_UPDATE_PATH = '/device/nebula/update';
export const CLIENT_KEY_HEADER = 'x-mcube-client-key';
/** Device requests are small (a few hundred installed apps at most). */
const MAX_DEVICE_BODY = 64 * 1024;

export interface DeviceHandlerParts {
  deps: Deps;
  store: SnapshotStore;
  keys: ClientKeys;
  limiter: DeviceRateLimiter;
}

type Maybe<T> = T | Promise<T>;
const then = <T, R>(v: Maybe<T>, f: (x: T) => Maybe<R>): Maybe<R> => (v instanceof Promise ? v.then(f) : f(v));

/**
 * The device endpoint, served straight from node:http (app.ts dispatches
 * /device/* before express). Per request: parse, the key lookup and the rate
 * counter in memory, then the engine over the in-memory snapshot. The path
 * stays synchronous (no promise) unless the key is not cached yet, the
 * snapshot is being rebuilt, or a NEW user is admitted to a time window, the
 * only database work a check may cause.
 */
export function createDeviceHandler(parts: DeviceHandlerParts): (req: IncomingMessage, res: ServerResponse) => boolean {
  const fail = (res: ServerResponse, err: unknown) => {
    if ((err as { aborted?: boolean }).aborted) return;
    if (err instanceof BadDeviceRequest) return send(res, err.status, errorBody(err.status, err.message));
    parts.deps.log.error('device update failed', { error: (err as Error).message });
    send(res, 500, errorBody(500, 'Internal error.'));
  };
  const run = (req: IncomingMessage, res: ServerResponse, fields: Fields) => {
    try {
      const out = check(parts, req, res, fields);
      if (out instanceof Promise) out.catch((err) => fail(res, err));
    } catch (err) {
      fail(res, err);
    }
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
    if (req.method === 'GET') {
      req.resume();
      run(req, res, fields);
      return true;
    }
    if (Number(req.headers['content-length']) > MAX_DEVICE_BODY) {
      req.resume();
      fail(res, tooLarge());
      return true;
    }
    // the body, without a promise; a stalled body is cut by the server's requestTimeout
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > MAX_DEVICE_BODY) {
        refused = true;
        fail(res, tooLarge());
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      try {
        const body = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8');
        if (body !== '') {
          if ((req.headers['content-type'] ?? '').includes('json')) fieldsFromJson(body, fields);
          else fieldsFromForm(body, fields);
        }
      } catch (err) {
        fail(res, err);
        return;
      }
      run(req, res, fields);
    });
    return true;
  };
}

const tooLarge = () => new BadDeviceRequest(`The body is larger than ${MAX_DEVICE_BODY} bytes.`, 413);

function check(parts: DeviceHandlerParts, req: IncomingMessage, res: ServerResponse, fields: Fields): Maybe<void> {
  const header = req.headers[CLIENT_KEY_HEADER];
  const clientKey = (typeof header === 'string' ? header : '') || str(fields, 'clientKey');
  if (!clientKey) return send(res, 401, errorBody(401, `Missing client key (header ${CLIENT_KEY_HEADER} or field clientKey).`));
  return then(parts.keys.resolve(clientKey), (scope) => authorised(parts, req, res, fields, scope));
}

function authorised(parts: DeviceHandlerParts, req: IncomingMessage, res: ServerResponse, fields: Fields, scope: DeviceScope | null): Maybe<void> {
  const appId = str(fields, 'appId');
  const workspaceId = str(fields, 'workspaceId');
  if (!scope || (appId && appId !== scope.appId) || (workspaceId && workspaceId !== scope.workspaceId)) {
    return send(res, 401, errorBody(401, 'Unknown client key, or the key does not belong to this appId/workspaceId.'));
  }
  const { deps, store, limiter } = parts;
  const userKey = userKeyOf(fields);
  if (!limiter.allow(scope.key, userKey || 'ip:' + (req.socket.remoteAddress ?? ''))) {
    return send(res, 429, errorBody(RESULT_RATE_LIMITED, 'Too many update checks from this device; retry later.'), {
      'retry-after': String(limiter.retryAfterSec()),
    });
  }
  const parsed = parseCheck(fields, userKey, deps.now());
  const held: Maybe<ServingHolder | null> = store.ready(scope.key) ?? store.get(scope.appId, scope.workspaceId);
  return then(held, (h) => {
    if (!h) return send(res, 503, errorBody(503, 'Delivery data is not available yet; retry later.'));
    return then(answer(parts, h.current, h.admissions, parsed), (out) => sendAnswer(res, out));
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
  return renderAnswer(snap.head, chosen.entries, chosen.discard);
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
  return renderAnswer(snap.head, chosen.entries, chosen.discard);
}

function take(chosen: Chosen, id: string, d: AppDecision): void {
  if (d.kind !== 'deliver') return;
  chosen.entries.push(d.task);
  if (d.discard !== null) chosen.discard.push([id, d.discard]);
}

function send(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  if (res.headersSent) return;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(body);
}

/** The 200 answer: its length is known without encoding it; node:http joins header and body into one chunk. */
function sendAnswer(res: ServerResponse, body: Piece): void {
  if (res.headersSent) return;
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.bytes, 'cache-control': 'no-store' });
  res.end(body.text);
}
