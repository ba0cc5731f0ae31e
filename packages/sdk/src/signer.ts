import { createHash, createHmac, randomBytes } from 'node:crypto';

/** RFC 3986 percent-encoding as POP uses it: encodeURIComponent plus ! ' ( ) *. */
export function percentEncode(s: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(s);
  } catch {
    // a lone surrogate (an emoji cut in half) has no UTF-8 form: say which value, not a bare URIError
    throw new TypeError(`a parameter value holds a lone UTF-16 surrogate and cannot be sent: ${JSON.stringify(s.slice(0, 40))}`);
  }
  return encoded.replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Form body in ASCII order of the field names, RFC 3986 encoded (what the vendor SDKs hash and send). */
export function formEncode(params: Record<string, string>): string {
  return Object.keys(params)
    .sort(byCodeUnit)
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k]!)}`)
    .join('&');
}

/** `YYYY-MM-DDTHH:mm:ssZ`, UTC, no milliseconds. */
export function acsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** 64 lowercase hex characters, like @alicloud/openapi-core. */
export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

export interface Acs3SignInput {
  method: string;
  /** path of the request, "/" for every mPaaS action */
  path: string;
  query?: Record<string, string>;
  /** header name -> value; names are lower-cased here; host, content-type and x-acs-* are signed */
  headers: Record<string, string>;
  /** lowercase hex SHA-256 of the exact body bytes */
  hashedPayload: string;
}

export interface Acs3Signed {
  canonicalRequest: string;
  stringToSign: string;
  signedHeaders: string;
  signature: string;
  authorization: string;
}

/** ACS3-HMAC-SHA256 ("V3") signature, reference §1.3; every intermediate value is returned for debugging. */
export function signAcs3(input: Acs3SignInput, accessKeyId: string, accessKeySecret: string): Acs3Signed {
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.headers)) lower[k.toLowerCase()] = v;
  const names = Object.keys(lower)
    .filter((n) => n === 'host' || n === 'content-type' || n.startsWith('x-acs-'))
    .sort(byCodeUnit);
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]!.trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const uri = (input.path || '/').replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/g, '~');
  const query = Object.entries(input.query ?? {})
    .sort((a, b) => byCodeUnit(a[0], b[0]))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
  const canonicalRequest = [input.method.toUpperCase(), uri, query, canonicalHeaders, signedHeaders, input.hashedPayload].join('\n');
  const stringToSign = `ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', accessKeySecret).update(stringToSign).digest('hex');
  return {
    canonicalRequest,
    stringToSign,
    signedHeaders,
    signature,
    authorization: `ACS3-HMAC-SHA256 Credential=${accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`,
  };
}

export interface RpcSigned {
  canonicalizedQueryString: string;
  stringToSign: string;
  signature: string;
}

/** HMAC-SHA1 signature version 1.0 (reference §1.4) over query and form parameters together. */
export function signRpc(method: string, params: Record<string, string>, accessKeySecret: string): RpcSigned {
  // sorted by the raw names, then encoded, as the vendor's clients do: the orders differ once a name holds a
  // character the encoding changes ("ä" is %C3%A4, "/" is %2F)
  const canonicalizedQueryString = Object.entries(params)
    .filter(([k]) => k !== 'Signature')
    .sort((a, b) => byCodeUnit(a[0], b[0]))
    .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
    .join('&');
  const stringToSign = `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(canonicalizedQueryString)}`;
  const signature = createHmac('sha1', accessKeySecret + '&').update(stringToSign).digest('base64');
  return { canonicalizedQueryString, stringToSign, signature };
}
