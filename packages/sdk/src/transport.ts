import { McubeClientError, McubeError, McubeNetworkError, McubeServerError, McubeThrottlingError } from './errors.js';
import type { SignedRequest } from './request-builder.js';
import { xmlTag } from './xml-tag.js';

export interface WireAnswer {
  statusCode: number;
  headers: Record<string, string>;
  /** parsed JSON body, PascalCase as sent */
  body: Record<string, unknown>;
  requestId: string | undefined;
}

function networkError(err: unknown, action: string, timeoutMs: number, url: string): McubeNetworkError {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') {
    return new McubeNetworkError({ code: 'Timeout', message: `${action}: no answer within ${timeoutMs} ms`, action, cause: err });
  }
  if (e?.cause?.message === 'bad port') {
    // fetch (undici) never connects to the ports browsers block, whatever listens there
    const port = new URL(url).port;
    return new McubeNetworkError({
      code: 'BlockedPort',
      message: `${action}: Node.js's fetch refuses to connect to port ${port}, one of the ports browsers block (such as 6000 or 10080); run the server on another port`,
      action,
      cause: err,
    });
  }
  if (e?.cause?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number/.test(e?.cause?.message ?? '')) {
    // a bare host:port means HTTPS (as the vendor's clients read it); a local server speaks plain HTTP
    const u = new URL(url);
    return new McubeNetworkError({
      code: 'PlainHttpServer',
      message: `${action}: ${u.host} answered an HTTPS request in plain HTTP; give the endpoint as http://${u.host} (MCUBE_ENDPOINT)`,
      action,
      cause: err,
    });
  }
  const code = e?.cause?.code ?? 'NetworkError';
  return new McubeNetworkError({ code, message: `${action}: ${e?.cause?.message ?? e?.message ?? String(err)}`, action, cause: err });
}

function popError(status: number, headers: Record<string, string>, text: string, action: string): McubeError {
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === 'object') body = parsed;
  } catch {}
  // a gateway or WAF in front may answer the vendor's XML error body (reference §2.1: text/xml;charset=utf-8)
  const xml = Object.keys(body).length === 0 && /<Error>/.test(text);
  const pick = (k: string) => {
    if (xml) return xmlTag(text, k);
    const v = body[k] ?? body[k.charAt(0).toLowerCase() + k.slice(1)];
    return typeof v === 'string' ? v : undefined;
  };
  const code = pick('Code');
  // no POP error body: a proxy's or another service's error page, which says nothing useful in its markup
  const foreign = `HTTP ${status} without an mPaaS OpenAPI error body, so something else answered; check the endpoint (MCUBE_ENDPOINT)`;
  const init = {
    code: code ?? `Http${status}`,
    message: pick('Message') ?? (code ? `HTTP ${status}` : `${foreign}${text.trim() ? `: ${plainText(text).slice(0, 120)}` : ''}`),
    requestId: pick('RequestId') ?? headers['x-acs-request-id'],
    statusCode: status,
    data: text && Object.keys(body).length ? body : text,
    action,
  };
  const retryAfter = headers['x-acs-retry-after'];
  // throttling is a refusal (4xx): a 5xx that also says when to come back may still have applied a change,
  // and a state-changing call must not be repeated after it
  if (status < 500 && retryAfter && /^\d+$/.test(retryAfter) && Number(retryAfter) > 0) return new McubeThrottlingError({ ...init, retryAfter: Number(retryAfter) });
  return status < 500 ? new McubeClientError(init) : new McubeServerError(init);
}

/** An error page's words without its markup (an HTML page from a proxy dumps hundreds of characters of tags). */
function plainText(text: string): string {
  return text
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Largest answer read: the biggest real one (an unpaged task list) is a few MB; past this it is not our server. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;
/**
 * ExportMcubeSwitchConfigs returns every key of a workspace: at the server's limits (1,000 keys of 20 values of
 * 4,096 characters) that is over 80 MB of text, up to four times that in UTF-8.
 */
const MAX_ANSWER_BYTES_OF: Record<string, number> = { ExportMcubeSwitchConfigs: 512 * 1024 * 1024 };

class AnswerTooLarge extends Error {}

/** The body as text, refused past `max` bytes (cancelled, so the rest is not downloaded). */
async function readCapped(res: Response, max: number): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > max) {
    await res.body?.cancel();
    throw new AnswerTooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new AnswerTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** One HTTP exchange; throws a typed error for anything but a 2xx JSON answer. */
export async function sendOnce(req: SignedRequest, action: string, timeoutMs: number, signal?: AbortSignal): Promise<WireAnswer> {
  const { host: _host, ...headers } = req.headers;
  // A timer of our own, not AbortSignal.timeout(): that one does not keep the process alive, and Node 20's fetch
  // never settles when the peer closes the connection before the request is written (a port forward with no
  // backend). The event loop then ran empty and the CLI exited 0 having done nothing.
  const cap = MAX_ANSWER_BYTES_OF[action] ?? MAX_ANSWER_BYTES;
  const timer = new AbortController();
  const clock = setTimeout(() => timer.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
  const timeout = timer.signal;
  let res: Response;
  let text: string;
  try {
    res = await fetch(req.url, {
      method: req.method,
      headers,
      body: req.body,
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    text = await readCapped(res, cap);
  } catch (err) {
    if (err instanceof AnswerTooLarge) {
      // not retried (InvalidResponse): another try would download it again
      throw new McubeNetworkError({ code: 'InvalidResponse', message: `${action}: the answer is larger than ${cap} bytes, so it is not an mPaaS OpenAPI answer; check the endpoint`, action });
    }
    if (signal?.aborted) throw signal.reason ?? err;
    throw networkError(timeout.aborted ? timeout.reason : err, action, timeoutMs, req.url);
  } finally {
    clearTimeout(clock);
  }
  const resHeaders: Record<string, string> = {};
  res.headers.forEach((v, k) => (resHeaders[k] = v));
  if (res.status >= 400) throw popError(res.status, resHeaders, text, action);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (res.status < 200 || res.status > 299 || !body || typeof body !== 'object' || Array.isArray(body)) {
    const where = res.status >= 300 && res.status < 400 ? ` (redirect to ${resHeaders.location ?? '?'}; check the endpoint)` : '';
    throw new McubeNetworkError({
      code: 'InvalidResponse',
      message: `${action}: HTTP ${res.status} answer is not a JSON object, so it is not an mPaaS OpenAPI answer${where || '; check the endpoint (MCUBE_ENDPOINT)'}: ${plainText(text).slice(0, 120)}`,
      statusCode: res.status,
      data: text,
      action,
    });
  }
  const b = body as Record<string, unknown>;
  // every answer of the OpenAPI carries ResultCode; without it the endpoint is some other service
  if (typeof b.ResultCode !== 'string') {
    throw new McubeNetworkError({
      code: 'InvalidResponse',
      message: `${action}: the answer has no ResultCode, so it is not an mPaaS OpenAPI answer; check the endpoint (MCUBE_ENDPOINT): ${text.trim().slice(0, 120)}`,
      statusCode: res.status,
      data: text,
      action,
    });
  }
  const requestId = typeof b.RequestId === 'string' ? b.RequestId : resHeaders['x-acs-request-id'];
  return { statusCode: res.status, headers: resHeaders, body: b, requestId };
}
