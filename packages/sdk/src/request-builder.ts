import { formEncode, percentEncode, sha256Hex, signAcs3, signRpc } from './signer.js';

export const API_VERSION = '2020-10-28';

/** `ACS3-HMAC-SHA256` (default, like the vendor's TypeScript SDK) or `v2` (HMAC-SHA1 signature 1.0, like the Java SDK). */
export type SignatureAlgorithm = 'ACS3-HMAC-SHA256' | 'v2';

export interface SignedRequest {
  url: string;
  method: 'POST';
  /** every header sent, host included (signed; fetch sets it from the URL) */
  headers: Record<string, string>;
  body: string;
}

export interface BuildInput {
  endpoint: URL;
  action: string;
  /** form fields in wire names, already stringified */
  params: Record<string, string>;
  accessKeyId: string;
  accessKeySecret: string;
  algorithm: SignatureAlgorithm;
  /** `YYYY-MM-DDTHH:mm:ssZ` */
  timestamp: string;
  nonce: string;
  userAgent: string;
}

/**
 * Accepts `https://host[:port][/prefix]`, `http://...`, or a bare `host[:port]`
 * (the vendor SDKs' endpoint form), which gets `defaultProtocol`.
 */
export function parseEndpoint(endpoint: string, defaultProtocol: 'http' | 'https' = 'https'): URL {
  const text = endpoint.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `${defaultProtocol}://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new TypeError(`endpoint "${endpoint}" is neither a URL nor host[:port]`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`endpoint "${endpoint}" must use http or https`);
  if (url.search || url.hash) throw new TypeError(`endpoint "${endpoint}" must not carry a query or fragment`);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** One signed RPC call: POST <endpoint>/ with the fields form-encoded in the body. */
export function buildSignedRequest(i: BuildInput): SignedRequest {
  const body = formEncode(i.params);
  if (i.algorithm === 'v2') {
    const common: Record<string, string> = {
      Action: i.action,
      Format: 'json',
      Version: API_VERSION,
      Timestamp: i.timestamp,
      SignatureNonce: i.nonce,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      AccessKeyId: i.accessKeyId,
    };
    const { signature } = signRpc('POST', { ...i.params, ...common }, i.accessKeySecret);
    const query = Object.entries({ ...common, Signature: signature })
      .map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`)
      .join('&');
    return {
      url: `${i.endpoint.origin}${i.endpoint.pathname}?${query}`,
      method: 'POST',
      headers: {
        host: i.endpoint.host,
        'x-acs-version': API_VERSION,
        'x-acs-action': i.action,
        'user-agent': i.userAgent,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body,
    };
  }
  const headers: Record<string, string> = {
    host: i.endpoint.host,
    'x-acs-action': i.action,
    'x-acs-version': API_VERSION,
    'x-acs-date': i.timestamp,
    'x-acs-signature-nonce': i.nonce,
    ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    'x-acs-content-sha256': sha256Hex(body),
    'x-acs-credentials-provider': 'static_ak',
    accept: 'application/json',
    'user-agent': i.userAgent,
  };
  // the action's path is "/" (reference §1.1): an endpoint path is a prefix a proxy strips, not part of what is signed
  const signed = signAcs3({ method: 'POST', path: '/', headers, hashedPayload: headers['x-acs-content-sha256']! }, i.accessKeyId, i.accessKeySecret);
  headers.authorization = signed.authorization;
  return { url: `${i.endpoint.origin}${i.endpoint.pathname}`, method: 'POST', headers, body };
}
