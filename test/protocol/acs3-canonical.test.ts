// Corners of the ACS3 canonical request that the vendor SDKs do not reach but a
// hand-written client or a proxy may: a header sent more than once, and query
// keys holding reserved characters (reference §1.3 steps 3 and 4).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest, signAcs3 } from '../helpers/signing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const signer = () => ({ host: srv.host, accessKeyId: srv.creds.accessKeyId, secret: srv.creds.accessKeySecret });
const params = () => ({ AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId });

describe('ACS3 canonical request', () => {
  it('a signed header sent twice is canonicalised as its values sorted and joined with ","', async () => {
    const r = await sendRequest(srv.host, signAcs3(signer(), 'QueryMcubeVhost', params(), { extraHeaders: [['x-acs-foo', 'b'], ['x-acs-foo', 'a']] }), 10_000);
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.json.ResultCode).toBe('OK');
    // one value holding a comma and a space is signed as it is
    const one = await sendRequest(srv.host, signAcs3(signer(), 'QueryMcubeVhost', params(), { extraHeaders: [['x-acs-foo', 'b, a']] }), 10_000);
    expect(one.status, one.body.toString()).toBe(200);
  });

  it('query keys are signed as they are, their values percent-encoded', async () => {
    const r = await sendRequest(srv.host, signAcs3(signer(), 'QueryMcubeVhost', params(), { query: [['x*y', 'a b*~'], ['k', 'v']] }), 10_000);
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.json.ResultCode).toBe('OK');
  });

  it('a query key holding "=" or "&" is refused: it would sign like other parameters', async () => {
    // signed as "Force=true&GraceSeconds=0", which a rewritten query ("Force%3Dtrue%26GraceSeconds=0") also gives
    const signed = signAcs3(signer(), 'QueryMcubeVhost', params(), { query: [['Force', 'true'], ['GraceSeconds', '0']] });
    const rewritten = { ...signed, target: '/?Force%3Dtrue%26GraceSeconds=0' };
    const r = await sendRequest(srv.host, rewritten, 10_000);
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ Code: 'InvalidParameter', Message: expect.stringContaining('must not contain "=" or "&"') });
  });
});

describe('a path that is not an endpoint', () => {
  it('answers a POP error body with a request id, as a client whose endpoint carries a path expects', async () => {
    const r = await fetch(`${srv.url}/prefix/?Action=QueryMcubeVhost`, { method: 'POST' });
    expect(r.status).toBe(404);
    const body: any = await r.json();
    expect(body).toEqual({ RequestId: expect.stringMatching(/^[0-9A-F-]{36}$/i), HostId: srv.host, Code: 'NotFound', Message: expect.stringContaining('No such endpoint'), Recommend: 'docs/errors.md#notfound' });
    expect(r.headers.get('x-acs-request-id')).toBe(body.RequestId);
  });
});
