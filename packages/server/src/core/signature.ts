import { createHmac, hash } from 'node:crypto';

/** RFC 3986 percent-encoding as POP uses it: encodeURIComponent plus ! ' ( ) *. */
export function percentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function sha256Hex(data: Buffer | string): string {
  // one-shot: no Hash object per call, which is most of the cost for inputs this small
  return hash('sha256', data, 'hex');
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export interface Acs3Input {
  method: string;
  path: string;
  /** query parameters, already decoded */
  query: Array<[string, string]>;
  /** lower-cased header name -> value(s) */
  headers: Record<string, string | string[] | undefined>;
  signedHeaders: string[];
  hashedPayload: string;
}

export function acs3CanonicalRequest(i: Acs3Input): string {
  const uri = i.path.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~') || '/';
  const query = [...i.query]
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
  const names = [...i.signedHeaders].sort(byCodeUnit);
  const canonicalHeaders = names
    .map((n) => {
      const raw = i.headers[n];
      const values = (Array.isArray(raw) ? raw : [raw ?? '']).map((v) => v.trim()).sort(byCodeUnit);
      return `${n}:${values.join(',')}\n`;
    })
    .join('');
  return [i.method.toUpperCase(), uri, query, canonicalHeaders, names.join(';'), i.hashedPayload].join('\n');
}

export function acs3Signature(i: Acs3Input, secret: string): string {
  const stringToSign = 'ACS3-HMAC-SHA256\n' + sha256Hex(acs3CanonicalRequest(i));
  return createHmac('sha256', secret).update(stringToSign).digest('hex');
}

export interface Acs3Authorization {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`; null when malformed. */
export function parseAcs3Authorization(header: string): Acs3Authorization | null {
  const m = /^ACS3-HMAC-SHA256\s+(.*)$/.exec(header.trim());
  if (!m) return null;
  const parts: Record<string, string> = {};
  for (const p of m[1]!.split(',')) {
    const eq = p.indexOf('=');
    if (eq < 0) return null;
    parts[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  const { Credential, SignedHeaders, Signature } = parts;
  if (!Credential || !SignedHeaders || !Signature || !/^[0-9a-f]{64}$/i.test(Signature)) return null;
  const signedHeaders = SignedHeaders.split(';').map((h) => h.trim().toLowerCase()).filter(Boolean);
  return { accessKeyId: Credential, signedHeaders, signature: Signature.toLowerCase() };
}

/** HMAC-SHA1 signature version 1.0 over every parameter but Signature (query and form body together). */
export function rpcStringToSign(method: string, params: Array<[string, string]>): string {
  const canonical = params
    .filter(([k]) => k !== 'Signature')
    .map(([k, v]) => [percentEncode(k), percentEncode(v)] as const)
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

export function rpcSignature(method: string, params: Array<[string, string]>, secret: string): string {
  return createHmac('sha1', secret + '&').update(rpcStringToSign(method, params)).digest('base64');
}
