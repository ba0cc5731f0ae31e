import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SDK_VERSION, buildSignedRequest, formEncode, parseEndpoint, sha256Hex, signAcs3, signRpc } from '../../packages/sdk/src/index.js';

// Test vectors of /work/shared/reference/mpaas-openapi-2020-10-28.md §1.3 and §1.4
// (produced by @alicloud/openapi-core 1.0.8 with the timestamp and nonce pinned).
const AK = 'testAccessKeyId';
const SK = 'testAccessKeySecret';
const FIELDS = { WorkspaceId: 'default', Vhost: 'example.com', TenantId: 'TENANT01', AppId: 'ALIPUB0000001' };
const BODY = 'AppId=ALIPUB0000001&TenantId=TENANT01&Vhost=example.com&WorkspaceId=default';
const HASHED = 'a9dbd79e4610323b78e8d4ba75071422fd567241dc7b2e8941398db7bd7821a8';
const DATE = '2024-01-02T03:04:05Z';
const NONCE = '3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60';
const SIGNED_HEADERS = 'content-type;host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version';
const ACS3_SIGNATURE = '5abaef1d6f7dd1d205caaefe48312faae69338ee0588f06658209609cacc2940';
const CANONICAL = [
  'POST',
  '/',
  '',
  'content-type:application/x-www-form-urlencoded',
  'host:127.0.0.1:18080',
  'x-acs-action:CreateMcubeVhost',
  `x-acs-content-sha256:${HASHED}`,
  'x-acs-credentials-provider:static_ak',
  `x-acs-date:${DATE}`,
  `x-acs-signature-nonce:${NONCE}`,
  'x-acs-version:2020-10-28',
  '',
  SIGNED_HEADERS,
  HASHED,
].join('\n');

const pinned = (algorithm: 'ACS3-HMAC-SHA256' | 'v2') =>
  buildSignedRequest({
    endpoint: parseEndpoint('127.0.0.1:18080', 'http'),
    action: 'CreateMcubeVhost',
    params: FIELDS,
    accessKeyId: AK,
    accessKeySecret: SK,
    algorithm,
    timestamp: DATE,
    nonce: NONCE,
    userAgent: 'test',
  });

describe('ACS3-HMAC-SHA256 (reference §1.3)', () => {
  it('encodes the body in wire-name order and hashes it', () => {
    expect(formEncode(FIELDS)).toBe(BODY);
    expect(sha256Hex(BODY)).toBe(HASHED);
  });

  it('refuses a value with a lone surrogate (no UTF-8 form) naming it, not with a bare URIError', () => {
    expect(() => formEncode({ ...FIELDS, Memo: 'cut \ud83d' })).toThrow(/lone UTF-16 surrogate.*cut/);
    expect(() => formEncode({ ...FIELDS, Memo: 'cut \ud83d' })).toThrow(TypeError);
  });

  it('reproduces the canonical request, string to sign and signature', () => {
    const s = signAcs3(
      {
        method: 'POST',
        path: '/',
        headers: {
          host: '127.0.0.1:18080',
          'x-acs-action': 'CreateMcubeVhost',
          'x-acs-version': '2020-10-28',
          'x-acs-date': DATE,
          'x-acs-signature-nonce': NONCE,
          'content-type': 'application/x-www-form-urlencoded',
          'x-acs-content-sha256': HASHED,
          'x-acs-credentials-provider': 'static_ak',
          accept: 'application/json',
          'user-agent': 'not signed',
        },
        hashedPayload: HASHED,
      },
      AK,
      SK,
    );
    expect(s.canonicalRequest).toBe(CANONICAL);
    expect(s.stringToSign).toBe('ACS3-HMAC-SHA256\n2e7d20b0c76289aaa7f047106757de10ef6a7a440afba1e48187fc80d8bbc182');
    expect(s.signedHeaders).toBe(SIGNED_HEADERS);
    expect(s.signature).toBe(ACS3_SIGNATURE);
  });

  it('the client request builder sends exactly the vendor SDK request', () => {
    const req = pinned('ACS3-HMAC-SHA256');
    expect(req.url).toBe('http://127.0.0.1:18080/');
    expect(req.body).toBe(BODY);
    expect(req.headers).toMatchObject({
      host: '127.0.0.1:18080',
      'x-acs-action': 'CreateMcubeVhost',
      'x-acs-version': '2020-10-28',
      'x-acs-date': DATE,
      'x-acs-signature-nonce': NONCE,
      'content-type': 'application/x-www-form-urlencoded',
      'x-acs-content-sha256': HASHED,
      'x-acs-credentials-provider': 'static_ak',
      accept: 'application/json',
      authorization: `ACS3-HMAC-SHA256 Credential=${AK},SignedHeaders=${SIGNED_HEADERS},Signature=${ACS3_SIGNATURE}`,
    });
  });
});

describe('HMAC-SHA1 signature 1.0 (reference §1.4)', () => {
  const QUERY =
    'AccessKeyId=testAccessKeyId&Action=CreateMcubeVhost&AppId=ALIPUB0000001&Format=json&SignatureMethod=HMAC-SHA1&SignatureNonce=3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60&SignatureVersion=1.0&TenantId=TENANT01&Timestamp=2024-01-02T03%3A04%3A05Z&Version=2020-10-28&Vhost=example.com&WorkspaceId=default';

  it('reproduces the canonicalized query string, string to sign and signature', () => {
    const s = signRpc(
      'POST',
      {
        ...FIELDS,
        Action: 'CreateMcubeVhost',
        Format: 'json',
        Version: '2020-10-28',
        Timestamp: DATE,
        SignatureNonce: NONCE,
        SignatureMethod: 'HMAC-SHA1',
        SignatureVersion: '1.0',
        AccessKeyId: AK,
      },
      SK,
    );
    expect(s.canonicalizedQueryString).toBe(QUERY);
    expect(s.stringToSign).toBe(
      'POST&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DCreateMcubeVhost%26AppId%3DALIPUB0000001%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60%26SignatureVersion%3D1.0%26TenantId%3DTENANT01%26Timestamp%3D2024-01-02T03%253A04%253A05Z%26Version%3D2020-10-28%26Vhost%3Dexample.com%26WorkspaceId%3Ddefault',
    );
    expect(s.signature).toBe('E+O3/TVlgbQgq3LBpgWbvsq/B1g=');
  });

  it('sorts the raw names before encoding them, as the vendor clients do ("a.b" before "a/b", "z" before "ä")', () => {
    const s = signRpc('GET', { 'a/b': '2', ä: '4', z: '3', 'a.b': '1' }, SK);
    expect(s.canonicalizedQueryString).toBe('a.b=1&a%2Fb=2&z=3&%C3%A4=4');
  });

  it('the client request builder sends the vendor SDK request line and body', () => {
    const req = pinned('v2');
    expect(req.url).toBe(
      'http://127.0.0.1:18080/?Action=CreateMcubeVhost&Format=json&Version=2020-10-28&Timestamp=2024-01-02T03%3A04%3A05Z&SignatureNonce=3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testAccessKeyId&Signature=E%2BO3%2FTVlgbQgq3LBpgWbvsq%2FB1g%3D',
    );
    expect(req.body).toBe(BODY);
    expect(req.headers.authorization).toBeUndefined();
  });
});

describe('endpoints', () => {
  it('takes a URL, a URL with a path prefix, or host:port with a default scheme', () => {
    expect(parseEndpoint('mpaas.example.com').href).toBe('https://mpaas.example.com/');
    expect(parseEndpoint('127.0.0.1:8080', 'http').host).toBe('127.0.0.1:8080');
    expect(parseEndpoint('http://gw.example.com/mcube').pathname).toBe('/mcube/');
    expect(() => parseEndpoint('ftp://x')).toThrow(/http or https/);
    expect(() => parseEndpoint('http://x/?a=1')).toThrow(/query/);
  });

  it('SDK_VERSION follows package.json', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../packages/sdk/package.json', import.meta.url), 'utf8'));
    expect(SDK_VERSION).toBe(pkg.version);
  });
});
