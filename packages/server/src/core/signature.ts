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
  /** each header's values one by one (node's IncomingMessage.headersDistinct); read only for a value holding a comma */
  headersDistinct?: () => Record<string, string[] | undefined>;
  signedHeaders: string[];
  hashedPayload: string;
}

export function acs3CanonicalRequest(i: Acs3Input): string {
  const uri = i.path === '/' ? '/' : i.path.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~') || '/';
  const query =
    i.query.length === 0
      ? ''
      : [...i.query]
          .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
          // the key as it is (reference §1.3 step 3, and openapi-core); only the value is encoded
          .map(([k, v]) => `${k}=${percentEncode(v)}`)
          .join('&');
  const names = isSorted(i.signedHeaders) ? i.signedHeaders : [...i.signedHeaders].sort(byCodeUnit);
  let canonicalHeaders = '';
  for (const n of names) {
    let raw = i.headers[n];
    // node joins a header sent several times into one string ("b, a"); the recipe sorts the values and joins them with ","
    if (typeof raw === 'string' && raw.includes(',') && i.headersDistinct) {
      const all = i.headersDistinct()[n];
      if (all && all.length > 1) raw = all;
    }
    const value = typeof raw === 'string' ? raw.trim() : Array.isArray(raw) ? raw.map((v) => v.trim()).sort(byCodeUnit).join(',') : '';
    canonicalHeaders += `${n}:${value}\n`;
  }
  return `${i.method.toUpperCase()}\n${uri}\n${query}\n${canonicalHeaders}\n${names.join(';')}\n${i.hashedPayload}`;
}

function isSorted(a: readonly string[]): boolean {
  for (let k = 1; k < a.length; k++) if (a[k - 1]! > a[k]!) return false;
  return true;
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

const HEX64 = /^[0-9a-f]{64}$/i;

/** Parses `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`; null when malformed. */
export function parseAcs3Authorization(header: string): Acs3Authorization | null {
  const h = header.trim();
  const scheme = 'ACS3-HMAC-SHA256';
  if (!h.startsWith(scheme) || !/\s/.test(h.charAt(scheme.length))) return null;
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const p of h.slice(scheme.length + 1).split(',')) {
    const eq = p.indexOf('=');
    if (eq < 0) return null;
    const name = p.slice(0, eq).trim();
    const value = p.slice(eq + 1).trim();
    if (name === 'Credential') credential = value;
    else if (name === 'SignedHeaders') signedHeaders = value;
    else if (name === 'Signature') signature = value;
  }
  if (!credential || !signedHeaders || !signature || !HEX64.test(signature)) return null;
  const names: string[] = [];
  for (const n of signedHeaders.split(';')) {
    const t = n.trim().toLowerCase();
    if (t) names.push(t);
  }
  return { accessKeyId: credential, signedHeaders: names, signature: signature.toLowerCase() };
}

/** HMAC-SHA1 signature version 1.0 over every parameter but Signature (query and form body together). */
export function rpcStringToSign(method: string, params: Array<[string, string]>): string {
  // sorted by the raw names, then encoded, as the vendor's clients do (reference §1.4): the orders differ once a
  // name holds a character the encoding changes ("ä" is %C3%A4, "/" is %2F)
  const canonical = params
    .filter(([k]) => k !== 'Signature')
    .sort((a, b) => byCodeUnit(a[0], b[0]) || byCodeUnit(a[1], b[1]))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
  return `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonical)}`;
}

export function rpcSignature(method: string, params: Array<[string, string]>, secret: string): string {
  return createHmac('sha1', secret + '&').update(rpcStringToSign(method, params)).digest('base64');
}
