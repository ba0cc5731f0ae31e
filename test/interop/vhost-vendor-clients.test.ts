import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openapiCore, popCore } from '../helpers/vendor-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const common = () => ({ AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId });

describe('vendor clients set a vhost and read it back', () => {
  it('@alicloud/openapi-core, default ACS3-HMAC-SHA256', async () => {
    const call = openapiCore(srv.host, srv.creds);
    const set = await call('CreateMcubeVhost', { ...common(), Vhost: 'acs3.h5app.com' });
    expect(set.statusCode).toBe(200);
    expect(set.body.ResultCode).toBe('OK');
    expect(set.body.CreateVhostResult).toEqual({ Data: 'success', ResultMsg: '', Success: true });
    const got = await call('QueryMcubeVhost', common());
    expect(got.body.QueryVhostResult.Data).toBe('acs3.h5app.com');
    expect(got.body.RequestId).toMatch(/^[0-9A-F-]{36}$/);
  });

  it('@alicloud/openapi-core, signatureAlgorithm v2 (HMAC-SHA1)', async () => {
    const call = openapiCore(srv.host, srv.creds, 'v2');
    await call('CreateMcubeVhost', { ...common(), Vhost: 'v2.h5app.com' });
    const got = await call('QueryMcubeVhost', common());
    expect(got.body.QueryVhostResult).toEqual({ Data: 'v2.h5app.com', ResultMsg: '', Success: true });
  });

  it('@alicloud/pop-core GET', async () => {
    const call = popCore(srv.url, srv.creds, 'GET');
    const set = await call('CreateMcubeVhost', { ...common(), Vhost: 'get.h5app.com' });
    expect(set.CreateVhostResult.Success).toBe(true);
    const got = await call('QueryMcubeVhost', common());
    expect(got.QueryVhostResult.Data).toBe('get.h5app.com');
  });

  it('@alicloud/pop-core POST', async () => {
    const call = popCore(srv.url, srv.creds, 'POST');
    await call('CreateMcubeVhost', { ...common(), Vhost: 'post.h5app.com' });
    const got = await call('QueryMcubeVhost', common());
    expect(got.QueryVhostResult.Data).toBe('post.h5app.com');
  });

  it('HMAC-SHA1 over parameter names whose order changes once encoded ("ä" is %C3%A4, "/" is %2F): the clients sort raw names first', async () => {
    // names the action does not take are ignored after the signature check; these only order differently
    const extra = { 'a.b': '1', 'a/b': '2', z: '3', ä: '4' };
    const v2 = openapiCore(srv.host, srv.creds, 'v2');
    expect((await v2('QueryMcubeVhost', { ...common(), ...extra })).statusCode).toBe(200);
    for (const method of ['GET', 'POST'] as const) {
      const pop = popCore(srv.url, srv.creds, method);
      expect(((await pop('QueryMcubeVhost', { ...common(), ...extra })) as any).QueryVhostResult.Success).toBe(true);
    }
  });

  it('the vendor runtime raises POP errors with code and request id', async () => {
    const call = openapiCore(srv.host, { ...srv.creds, accessKeySecret: 'wrong-secret-wrong-secret' });
    const err: any = await call('QueryMcubeVhost', common()).catch((e) => e);
    expect(err.code).toBe('SignatureDoesNotMatch');
    expect(err.statusCode).toBe(400);
    expect(err.requestId).toMatch(/^[0-9A-F-]{36}$/);
  });
});
