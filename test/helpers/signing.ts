import { createHash, createHmac, randomBytes } from 'node:crypto';
import { exchange, requestHead, type RawAnswer } from './raw-http.js';

/**
 * Signs requests the way the vendor clients do (ACS3-HMAC-SHA256 in headers,
 * or signature 1.0 with HMAC-SHA1 in the query/form), but returns the raw
 * request, so a test can send it byte for byte, replay it, or look for the
 * signature in logs afterwards. Written from the reference recipe,
 * independently of the server's verifier (raw-client.ts sends them over node:http).
 */
export interface Signer {
  host: string;
  accessKeyId: string;
  secret: string;
}

export interface SignedRequest {
  method: 'GET' | 'POST';
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** the signature value sent (hex for ACS3, base64 for 1.0) */
  signature: string;
  nonce: string;
}

export const percent = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

export const formOf = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => `${percent(k)}=${percent(v)}`).join('&');

const sortedForm = (p: Record<string, string>) =>
  Object.keys(p)
    .sort()
    .map((k) => `${percent(k)}=${percent(p[k]!)}`)
    .join('&');

export function isoNow(offsetMs = 0): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface SignOptions {
  date?: string;
  nonce?: string;
  version?: string;
  /** a body other than the form of params (raw bytes are signed as they are) */
  rawBody?: Buffer;
  /** ACS3: more signed headers, a name may come several times (sent as separate lines) */
  extraHeaders?: Array<[string, string]>;
  /** ACS3: a query string, signed per the recipe (keys as they are, values percent-encoded) */
  query?: Array<[string, string]>;
}

export function signAcs3(s: Signer, action: string, params: Record<string, string>, o: SignOptions = {}): SignedRequest {
  const body = o.rawBody ?? Buffer.from(sortedForm(params));
  const nonce = o.nonce ?? randomBytes(16).toString('hex');
  const h: Record<string, string> = {
    host: s.host,
    'x-acs-action': action,
    'x-acs-version': o.version ?? '2020-10-28',
    'x-acs-date': o.date ?? isoNow(),
    'x-acs-signature-nonce': nonce,
    'content-type': 'application/x-www-form-urlencoded',
    'x-acs-content-sha256': createHash('sha256').update(body).digest('hex'),
  };
  const extra = new Map<string, string[]>();
  for (const [n, v] of o.extraHeaders ?? []) extra.set(n, [...(extra.get(n) ?? []), v]);
  const names = [...Object.keys(h), ...extra.keys()].sort();
  const valueOf = (n: string) => h[n] ?? [...extra.get(n)!].sort().join(',');
  const query = [...(o.query ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalQuery = query.map(([k, v]) => `${k}=${percent(v)}`).join('&');
  const canonical = ['POST', '/', canonicalQuery, names.map((n) => `${n}:${valueOf(n)}\n`).join(''), names.join(';'), h['x-acs-content-sha256']].join('\n');
  const signature = createHmac('sha256', s.secret).update('ACS3-HMAC-SHA256\n' + createHash('sha256').update(canonical).digest('hex')).digest('hex');
  const headers: Array<[string, string]> = Object.keys(h).map((n) => [n, h[n]!]);
  headers.push(...(o.extraHeaders ?? []));
  headers.push(['authorization', `ACS3-HMAC-SHA256 Credential=${s.accessKeyId},SignedHeaders=${names.join(';')},Signature=${signature}`]);
  headers.push(['content-length', String(body.length)]);
  const target = query.length ? '/?' + query.map(([k, v]) => `${percent(k)}=${percent(v)}`).join('&') : '/';
  return { method: 'POST', target, headers, body, signature, nonce };
}

export function signV1(s: Signer, action: string, params: Record<string, string>, method: 'GET' | 'POST' = 'GET', o: SignOptions = {}): SignedRequest {
  const nonce = o.nonce ?? randomBytes(16).toString('hex');
  const all: Record<string, string> = {
    Action: action,
    Format: 'JSON',
    Version: o.version ?? '2020-10-28',
    Timestamp: o.date ?? isoNow(),
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: nonce,
    AccessKeyId: s.accessKeyId,
    ...params,
  };
  const signature = createHmac('sha1', s.secret + '&').update(`${method}&%2F&${percent(sortedForm(all))}`).digest('base64');
  all.Signature = signature;
  const text = sortedForm(all);
  if (method === 'GET') return { method, target: '/?' + text, headers: [['host', s.host]], body: Buffer.alloc(0), signature, nonce };
  const body = Buffer.from(text);
  return {
    method,
    target: '/',
    headers: [['host', s.host], ['content-type', 'application/x-www-form-urlencoded'], ['content-length', String(body.length)]],
    body,
    signature,
    nonce,
  };
}

/** Sends a (signed or hand-made) request on a fresh connection and waits for the whole answer. */
export function sendRequest(host: string, r: Pick<SignedRequest, 'method' | 'target' | 'headers' | 'body'>, timeoutMs: number): Promise<RawAnswer> {
  const head = requestHead(r.method, r.target, [...r.headers, ['connection', 'close']]);
  return exchange(host, { parts: [{ bytes: Buffer.concat([head, r.body]) }], timeoutMs });
}
