import type { IncomingMessage, ServerResponse } from 'node:http';
import { isUnavailable } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { errorBody, RESULT_RATE_LIMITED } from './answer.js';
import type { ClientKeys, DeviceScope } from './client-keys.js';
import { BadDeviceRequest, fieldsFromForm, fieldsFromJson, str, userKeyOf, type Fields } from './device-request.js';
import type { DeviceRateLimiter } from './rate-limit.js';

/**
 * What every device-facing endpoint (the H5 package check, the upgrade
 * check) shares: reading the fields from the query string and the body,
 * the public client key, the per-device rate limit, and the answers.
 */
export const CLIENT_KEY_HEADER = 'x-mcube-client-key';

export type Maybe<T> = T | Promise<T>;
/** f(v) now when v is a value, after it when a promise (named so the module namespace is not a thenable). */
export const andThen = <T, R>(v: Maybe<T>, f: (x: T) => Maybe<R>): Maybe<R> => (v instanceof Promise ? v.then(f) : f(v));

export function send(res: ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
  sendMeasured(res, status, body, Buffer.byteLength(body), extra);
}

/** send() for a body whose UTF-8 length is already known (a rendered answer carries it: no encoding pass per answer). */
export function sendMeasured(res: ServerResponse, status: number, body: string, bytes: number, extra?: Record<string, string>): void {
  if (res.headersSent) return;
  const n = outbox.push({ res, status, body, bytes, extra });
  if (n === 1) setImmediate(flushOutbox);
  // a turn with many requests ready still lets its first answers go after at most this many
  else if (n >= MAX_QUEUED) flushOutbox();
}

const MAX_QUEUED = 64;

interface Outgoing {
  res: ServerResponse;
  status: number;
  body: string;
  bytes: number;
  extra: Record<string, string> | undefined;
}

/**
 * Device answers leave together, right after the event-loop turn that
 * computed them (setImmediate runs when the poll phase is done), instead of
 * one by one between the JavaScript of the next requests. A lone request
 * waits for nothing; under load the socket writes run back to back. On the
 * delivery bench this cut the server's CPU per answer from 33 to 27 µs and
 * raised throughput by a quarter: the loopback write was 60 % of the
 * server's time, and it costs least when the writes of a turn come together
 * (the client is then woken once for many answers, not once per answer).
 */
let outbox: Outgoing[] = [];

function flushOutbox(): void {
  const out = outbox;
  outbox = [];
  for (let i = 0; i < out.length; i++) {
    const { res, status, body, bytes, extra } = out[i]!;
    // gone while waiting: nothing to answer (the request was not counted as answered either)
    if (res.headersSent || res.destroyed) continue;
    const headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes, 'cache-control': 'no-store' };
    if (extra) Object.assign(headers, extra);
    try {
      res.writeHead(status, headers);
      res.end(body);
    } catch (err) {
      // one answer that cannot be written (a bad header value) must not cost the others theirs, nor the process
      res.destroy(err as Error);
    }
  }
}

/**
 * For a device endpoint's `handle`: null when the path of `url` is not `path`, else where its query string
 * starts (-1: none), as readDeviceRequest takes it. Decided without slicing the path off the URL (asked for
 * every device request).
 */
export function queryStart(url: string, path: string): number | null {
  const end = path.length;
  if (!url.startsWith(path) || (url.length > end && url.charCodeAt(end) !== 63 /* ? */)) return null;
  return url.length > end ? end : -1;
}

/** Answers a failure: a BadDeviceRequest with its status, anything else as a logged 500; nothing for a gone client. */
export function failWith(log: Logger, what: string): (res: ServerResponse, err: unknown) => void {
  return (res, err) => {
    if ((err as { aborted?: boolean }).aborted) return;
    if (err instanceof BadDeviceRequest) return send(res, err.status, errorBody(err.status, err.message));
    if (isUnavailable(err)) {
      log.warn(what, { error: (err as Error).message, unavailable: true });
      return send(res, 503, errorBody(503, 'Temporarily unavailable; retry later.'), { 'retry-after': '1' });
    }
    log.error(what, { error: (err as Error).message });
    send(res, 500, errorBody(500, 'Internal error.'));
  };
}

export interface DeviceEndpoint {
  /** largest body accepted (413 above) */
  maxBody: number;
  fail(res: ServerResponse, err: unknown): void;
  /** the endpoint's work once the fields are read; may throw or reject (then `fail` answers) */
  run(req: IncomingMessage, res: ServerResponse, fields: Fields): Maybe<void>;
}

/**
 * Reads a device request addressed to the endpoint (`q`: where its query
 * string starts in req.url, -1 for none): GET or POST only, fields from the
 * query string, then from a form or JSON body. Without a promise; a body
 * that has not arrived in time is cut by the server's body sweep (app.ts).
 */
export function readDeviceRequest(ep: DeviceEndpoint, req: IncomingMessage, res: ServerResponse, q: number): void {
  if (req.method !== 'GET' && req.method !== 'POST') {
    req.resume();
    send(res, 405, errorBody(405, 'Use GET or POST.'), { allow: 'GET, POST' });
    return;
  }
  let fields: Fields;
  try {
    fields = q < 0 ? {} : fieldsFromForm(req.url!.slice(q + 1));
  } catch (err) {
    req.resume();
    ep.fail(res, err);
    return;
  }
  if (req.method === 'GET') {
    req.resume();
    run(ep, req, res, fields);
    return;
  }
  if (Number(req.headers['content-length']) > ep.maxBody) {
    req.resume();
    ep.fail(res, tooLarge(ep.maxBody));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on('data', (c: Buffer) => {
    if (refused) return;
    size += c.length;
    if (size > ep.maxBody) {
      refused = true;
      ep.fail(res, tooLarge(ep.maxBody));
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
      ep.fail(res, err);
      return;
    }
    run(ep, req, res, fields);
  });
}

const tooLarge = (max: number) => new BadDeviceRequest(`The body is larger than ${max} bytes.`, 413);

function run(ep: DeviceEndpoint, req: IncomingMessage, res: ServerResponse, fields: Fields): void {
  try {
    const out = ep.run(req, res, fields);
    if (out instanceof Promise) out.catch((err) => ep.fail(res, err));
  } catch (err) {
    ep.fail(res, err);
  }
}

/**
 * The device's app/workspace from its public client key (header or
 * `clientKey` field; `appId`/`workspaceId`, when sent, must match it), then
 * the per-device rate limit; `next` gets the scope and the user key. A 401 or
 * 429 is answered here. `next` takes everything as arguments, so an endpoint
 * binds it once instead of building a closure per request.
 */
export function admitDevice(
  keys: ClientKeys,
  limiter: DeviceRateLimiter,
  req: IncomingMessage,
  res: ServerResponse,
  fields: Fields,
  next: (res: ServerResponse, fields: Fields, scope: DeviceScope, userKey: string) => Maybe<void>,
): Maybe<void> {
  const header = req.headers[CLIENT_KEY_HEADER];
  const clientKey = (typeof header === 'string' ? header : '') || str(fields, 'clientKey');
  if (!clientKey) return send(res, 401, errorBody(401, `Missing client key (header ${CLIENT_KEY_HEADER} or field clientKey).`));
  return andThen(keys.resolve(clientKey), (scope) => {
    const appId = str(fields, 'appId');
    const workspaceId = str(fields, 'workspaceId');
    if (!scope || (appId && appId !== scope.appId) || (workspaceId && workspaceId !== scope.workspaceId)) {
      return send(res, 401, errorBody(401, 'Unknown client key, or the key does not belong to this appId/workspaceId.'));
    }
    const userKey = userKeyOf(fields);
    if (!limiter.allow(scope.key, userKey, req)) {
      return send(res, 429, errorBody(RESULT_RATE_LIMITED, 'Too many update checks from this device; retry later.'), {
        'retry-after': String(limiter.retryAfterSec()),
      });
    }
    return next(res, fields, scope, userKey);
  });
}
