import { describe, expect, it } from 'vitest';
import { acs3CanonicalRequest, acs3Signature, parseAcs3Authorization, percentEncode, rpcSignature, rpcStringToSign, sha256Hex } from './signature.js';

// Test vectors of ../shared/reference/mpaas-openapi-2020-10-28.md §1.3 and §1.4,
// produced by @alicloud/openapi-core@1.0.8 with timestamp and nonce pinned.
const body = 'AppId=ALIPUB0000001&TenantId=TENANT01&Vhost=example.com&WorkspaceId=default';

describe('ACS3-HMAC-SHA256 (reference §1.3)', () => {
  const headers = {
    host: '127.0.0.1:18080',
    'x-acs-action': 'CreateMcubeVhost',
    'x-acs-version': '2020-10-28',
    'x-acs-date': '2024-01-02T03:04:05Z',
    'x-acs-signature-nonce': '3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60',
    'content-type': 'application/x-www-form-urlencoded',
    'x-acs-content-sha256': 'a9dbd79e4610323b78e8d4ba75071422fd567241dc7b2e8941398db7bd7821a8',
    'x-acs-credentials-provider': 'static_ak',
    accept: 'application/json',
  };
  const authz =
    'ACS3-HMAC-SHA256 Credential=testAccessKeyId,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=5abaef1d6f7dd1d205caaefe48312faae69338ee0588f06658209609cacc2940';

  it('hashes the body as sent', () => {
    expect(sha256Hex(body)).toBe(headers['x-acs-content-sha256']);
  });

  it('builds the canonical request and signature of the vector', () => {
    const parsed = parseAcs3Authorization(authz)!;
    expect(parsed.accessKeyId).toBe('testAccessKeyId');
    const input = { method: 'POST', path: '/', query: [], headers, signedHeaders: parsed.signedHeaders, hashedPayload: sha256Hex(body) };
    expect(acs3CanonicalRequest(input)).toBe(
      [
        'POST',
        '/',
        '',
        'content-type:application/x-www-form-urlencoded',
        'host:127.0.0.1:18080',
        'x-acs-action:CreateMcubeVhost',
        'x-acs-content-sha256:a9dbd79e4610323b78e8d4ba75071422fd567241dc7b2e8941398db7bd7821a8',
        'x-acs-credentials-provider:static_ak',
        'x-acs-date:2024-01-02T03:04:05Z',
        'x-acs-signature-nonce:3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60',
        'x-acs-version:2020-10-28',
        '',
        'content-type;host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version',
        'a9dbd79e4610323b78e8d4ba75071422fd567241dc7b2e8941398db7bd7821a8',
      ].join('\n'),
    );
    expect(sha256Hex(acs3CanonicalRequest(input))).toBe('2e7d20b0c76289aaa7f047106757de10ef6a7a440afba1e48187fc80d8bbc182');
    expect(acs3Signature(input, 'testAccessKeySecret')).toBe(parsed.signature);
  });

  it('rejects malformed Authorization headers', () => {
    expect(parseAcs3Authorization('ACS3-HMAC-SHA256 Credential=x')).toBeNull();
    expect(parseAcs3Authorization('ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=zz')).toBeNull();
    expect(parseAcs3Authorization('Bearer abc')).toBeNull();
  });
});

describe('HMAC-SHA1 signature 1.0 (reference §1.4)', () => {
  const params: Array<[string, string]> = [
    ['Action', 'CreateMcubeVhost'],
    ['Format', 'json'],
    ['Version', '2020-10-28'],
    ['Timestamp', '2024-01-02T03:04:05Z'],
    ['SignatureNonce', '3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60'],
    ['SignatureMethod', 'HMAC-SHA1'],
    ['SignatureVersion', '1.0'],
    ['AccessKeyId', 'testAccessKeyId'],
    ['AppId', 'ALIPUB0000001'],
    ['TenantId', 'TENANT01'],
    ['Vhost', 'example.com'],
    ['WorkspaceId', 'default'],
  ];

  it('builds the string to sign of the vector', () => {
    expect(rpcStringToSign('POST', params)).toBe(
      'POST&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DCreateMcubeVhost%26AppId%3DALIPUB0000001%26Format%3Djson%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3f1c6a2e9b7d4c5a8e0f1b2c3d4e5f60%26SignatureVersion%3D1.0%26TenantId%3DTENANT01%26Timestamp%3D2024-01-02T03%253A04%253A05Z%26Version%3D2020-10-28%26Vhost%3Dexample.com%26WorkspaceId%3Ddefault',
    );
  });

  it('signs with secret + "&"', () => {
    expect(rpcSignature('POST', params, 'testAccessKeySecret')).toBe('E+O3/TVlgbQgq3LBpgWbvsq/B1g=');
    expect(rpcSignature('POST', [...params, ['Signature', 'ignored']], 'testAccessKeySecret')).toBe('E+O3/TVlgbQgq3LBpgWbvsq/B1g=');
    expect(rpcSignature('GET', params, 'testAccessKeySecret')).not.toBe('E+O3/TVlgbQgq3LBpgWbvsq/B1g=');
  });

  it('percent-encodes as RFC 3986', () => {
    expect(percentEncode("a b!'()*~")).toBe('a%20b%21%27%28%29%2A~');
    expect(percentEncode('中')).toBe('%E4%B8%AD');
  });
});
