import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { acs3, isoNow, send, v1, type RawResponse } from '../helpers/raw-client.js';
import { exchange } from '../helpers/raw-http.js';
import { sendRequest, signAcs3, signV1 } from '../helpers/signing.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let otherApp: string;

beforeAll(async () => {
  srv = await startTestServer();
  const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
  await store.ensureTenant('TENANT02');
  otherApp = 'ALIPUB0000002';
  await store.ensureApp('TENANT02', otherApp);
  await store.ensureWorkspace(otherApp, 'default');
});
afterAll(async () => {
  await srv?.close();
});

const common = () => ({ AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId });
const base = () => ({ host: srv.host, accessKeyId: srv.creds.accessKeyId, secret: srv.creds.accessKeySecret });

async function counts() {
  const k = srv.node.deps.db.knex;
  const one = async (t: string) => Number((await k(t).count({ n: '*' }))[0]!.n);
  // the vhost rows themselves: a refused CreateMcubeVhost that overwrote the value would leave the count as it was
  const vhosts = await k('vhosts').select('*').orderBy(['app_id', 'workspace_id']);
  return { vhosts, nonces: await one('request_nonces'), audit: await one('audit_log') };
}

function expectPop(r: RawResponse, status: number, code: string) {
  expect(r.status, r.text).toBe(status);
  expect(r.body.Code).toBe(code);
  expect(typeof r.body.Message).toBe('string');
  expect(r.body.Message.length).toBeGreaterThan(0);
  expect(r.body.RequestId).toMatch(/^[0-9A-F-]{36}$/);
  expect(r.headers['x-acs-request-id']).toBe(r.body.RequestId);
  expect(r.body.HostId).toBe(srv.host);
  expect(typeof r.body.Recommend).toBe('string');
}

/**
 * Runs a refused call and checks that nothing was written. A caller that
 * authenticated but was refused (Forbidden, bad parameters) has used its
 * nonce, and a refused management action leaves exactly one audit row that
 * records the refusal; business data never changes.
 */
async function refusedWritesNothing(run: () => Promise<RawResponse>, status: number, code: string, authenticated: false | 'mutating' | 'read' = false) {
  const before = await counts();
  const r = await run();
  expectPop(r, status, code);
  const after = await counts();
  expect(after.vhosts).toEqual(before.vhosts);
  if (!authenticated) {
    expect(after).toEqual(before);
  } else {
    expect(after.nonces).toBe(before.nonces + 1);
    const audit = await srv.node.deps.db.knex('audit_log').where({ request_id: r.body.RequestId }).select('result_code', 'http_status');
    expect(audit).toEqual(authenticated === 'mutating' ? [{ result_code: code, http_status: status }] : []);
  }
  return r;
}

// a new value every call: a refused call that wrote anyway changes the stored vhost, whatever ran before it
let vhostSeq = 0;
const setVhost = (over: Partial<Parameters<typeof acs3>[0]> = {}) =>
  acs3({ ...base(), action: 'CreateMcubeVhost', params: { ...common(), Vhost: `neg${++vhostSeq}.h5app.com` }, ...over });

describe('protocol failures answer a POP error and write nothing', () => {
  it('accepts the hand-signed baseline call (so the negatives below fail for their one reason)', async () => {
    const r = await setVhost();
    expect(r.status, r.text).toBe(200);
    expect(r.body.CreateVhostResult.Success).toBe(true);
  });

  it('wrong secret: 400 SignatureDoesNotMatch', async () => {
    await refusedWritesNothing(() => setVhost({ secret: 'not-the-secret-at-all-0000' }), 400, 'SignatureDoesNotMatch');
    await refusedWritesNothing(
      () => v1({ ...base(), secret: 'not-the-secret-at-all-0000', action: 'CreateMcubeVhost', params: { ...common(), Vhost: 'x.h5app.com' } }),
      400,
      'SignatureDoesNotMatch',
    );
  });

  it('unknown key: 404 InvalidAccessKeyId.NotFound', async () => {
    await refusedWritesNothing(() => setVhost({ accessKeyId: 'MCAKDOESNOTEXIST00000' }), 404, 'InvalidAccessKeyId.NotFound');
  });

  it('disabled key: 400 InvalidAccessKeyId.Inactive, on every node within the key cache time', async () => {
    const store = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    const key = await store.createAccessKey(srv.creds.tenantId);
    const call = () => acs3({ host: srv.host, accessKeyId: key.id, secret: key.secret, action: 'QueryMcubeVhost', params: common() });
    expect((await call()).status).toBe(200);
    await store.setKeyStatus(key.id, 'disabled');
    let r = await call();
    for (let i = 0; i < 40 && r.status === 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await call();
    }
    expectPop(r, 400, 'InvalidAccessKeyId.Inactive');
    await refusedWritesNothing(
      () => acs3({ host: srv.host, accessKeyId: key.id, secret: key.secret, action: 'CreateMcubeVhost', params: { ...common(), Vhost: 'off.h5app.com' } }),
      400,
      'InvalidAccessKeyId.Inactive',
    );
  });

  it('stale or future timestamp: 400 InvalidTimeStamp.Expired; malformed: InvalidTimeStamp.Format', async () => {
    await refusedWritesNothing(() => setVhost({ date: isoNow(-16 * 60_000) }), 400, 'InvalidTimeStamp.Expired');
    await refusedWritesNothing(() => setVhost({ date: isoNow(16 * 60_000) }), 400, 'InvalidTimeStamp.Expired');
    await refusedWritesNothing(() => setVhost({ date: 'yesterday' }), 400, 'InvalidTimeStamp.Format');
    // the format is exact (no milliseconds) and the date must exist: Date.parse would roll 31 November over to 1 December
    await refusedWritesNothing(() => setVhost({ date: new Date().toISOString() }), 400, 'InvalidTimeStamp.Format');
    const now = new Date();
    const impossible = `${now.getUTCFullYear()}-02-30T${now.toISOString().slice(11, 19)}Z`;
    await refusedWritesNothing(() => setVhost({ date: impossible }), 400, 'InvalidTimeStamp.Format');
    const ok = await setVhost({ date: isoNow(-14 * 60_000) });
    expect(ok.status).toBe(200);
  });

  it('replayed nonce: 400 SignatureNonceUsed (ACS3 and signature 1.0)', async () => {
    const nonce = 'replay-' + Date.now();
    expect((await setVhost({ nonce })).status).toBe(200);
    await refusedWritesNothing(() => setVhost({ nonce }), 400, 'SignatureNonceUsed');
    const n1 = 'replay-v1-' + Date.now();
    const call = () => v1({ ...base(), nonce: n1, action: 'QueryMcubeVhost', params: common() });
    expect((await call()).status).toBe(200);
    expectPop(await call(), 400, 'SignatureNonceUsed');
  });

  it('a control character in the nonce or the key id is refused before it reaches the database, and fails no other call', async () => {
    // signature 1.0 carries both in the form, where %00 decodes to a NUL; a PostgreSQL batch holding it used to fail whole
    const others = Array.from({ length: 20 }, () => acs3({ ...base(), action: 'QueryMcubeVhost', params: common() }));
    const bad = v1({ ...base(), nonce: `nul-\u0000-${Date.now()}`, action: 'QueryMcubeVhost', params: common() });
    const badKey = v1({ ...base(), accessKeyId: 'MCAK\u0000X', action: 'QueryMcubeVhost', params: common() });
    const [b, k, ...rest] = await Promise.all([bad, badKey, ...others]);
    expectPop(b!, 400, 'InvalidParameter');
    expect(b!.body.Message).toMatch(/SignatureNonce/);
    expectPop(k!, 404, 'InvalidAccessKeyId.NotFound');
    expect(rest.map((r) => r.status)).toEqual(Array(20).fill(200));
    await refusedWritesNothing(() => setVhost({ nonce: `tab\t${Date.now()}` }), 400, 'InvalidParameter');
  });

  it('a signed header sent on two lines is refused: a nonce holding a comma, split in two, is no new nonce', async () => {
    const nonce = `${Date.now()}a,${Date.now()}b`;
    const signed = signAcs3(base(), 'CreateMcubeVhost', { ...common(), Vhost: `split${++vhostSeq}.h5app.com` }, { nonce });
    expect((await sendRequest(srv.host, signed, 5000)).status).toBe(200);
    const [a, b] = nonce.split(',');
    for (const parts of [[a, b], [b, a]]) {
      const split = { ...signed, headers: signed.headers.flatMap(([k, v]): Array<[string, string]> => (k === 'x-acs-signature-nonce' ? parts.map((p) => [k, p!]) : [[k, v]])) };
      const before = await counts();
      const r = await sendRequest(srv.host, split, 5000);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ Code: 'InvalidParameter', Message: 'The x-acs-signature-nonce header is sent more than once.' });
      expect(await counts()).toEqual(before);
    }
    // node keeps only the first Authorization or Content-Type line: a second one, in any letter case, is refused all the same
    for (const name of ['authorization', 'content-type']) {
      const again = signAcs3(base(), 'CreateMcubeVhost', { ...common(), Vhost: `split${++vhostSeq}.h5app.com` });
      const doubled = { ...again, headers: again.headers.flatMap(([k, v]): Array<[string, string]> => (k.toLowerCase() === name ? [[k, v], [name.toUpperCase(), v]] : [[k, v]])) };
      const before = await counts();
      const r = await sendRequest(srv.host, doubled, 5000);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ Code: 'InvalidParameter', Message: `The ${name} header is sent more than once.` });
      expect(await counts()).toEqual(before);
    }
  });

  it('an HTTP/1.1 request without a Host header, or with two, gets a POP error; the absolute form is served', async () => {
    const q = signV1(base(), 'QueryMcubeVhost', common(), 'GET');
    const noHost = await exchange(srv.host, { parts: [{ bytes: Buffer.from(`GET ${q.target} HTTP/1.1\r\nconnection: close\r\n\r\n`) }], timeoutMs: 5000 });
    expect(noHost.status).toBe(400);
    expect(noHost.json).toMatchObject({ Code: 'InvalidParameter', Message: 'An HTTP/1.1 request needs a Host header.', HostId: srv.host });
    expect(noHost.headers['x-acs-request-id']).toBe(noHost.json.RequestId);
    const twoHosts = await exchange(srv.host, { parts: [{ bytes: Buffer.from(`GET ${q.target} HTTP/1.1\r\nhost: ${srv.host}\r\nhost: evil.example\r\nconnection: close\r\n\r\n`) }], timeoutMs: 5000 });
    expect(twoHosts.status).toBe(400);
    expect(twoHosts.json).toMatchObject({ Code: 'InvalidParameter', Message: 'The request has more than one Host header.' });
    const absolute = await exchange(srv.host, { parts: [{ bytes: Buffer.from(`GET http://${srv.host}${signV1(base(), 'QueryMcubeVhost', common(), 'GET').target} HTTP/1.1\r\nhost: ${srv.host}\r\nconnection: close\r\n\r\n`) }], timeoutMs: 5000 });
    expect(absolute.status).toBe(200);
    expect(absolute.json.QueryVhostResult).toBeDefined();
    // an absolute form whose authority is no URL: refused, and the node answers on (new URL threw in the listener)
    for (const target of ['http://%zz/?Action=X', 'http://a:99999/']) {
      const bad = await exchange(srv.host, { parts: [{ bytes: Buffer.from(`GET ${target} HTTP/1.1\r\nhost: ${srv.host}\r\nconnection: close\r\n\r\n`) }], timeoutMs: 5000 });
      expect(bad.status, target).toBe(400);
      expect(bad.json).toMatchObject({ Code: 'InvalidParameter', Message: 'The request target is not a URL.' });
    }
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  });

  it('a forged request does not burn the nonce of a later genuine one', async () => {
    const nonce = 'forged-first-' + Date.now();
    expectPop(await setVhost({ nonce, secret: 'wrong-secret-wrong-secret-00' }), 400, 'SignatureDoesNotMatch');
    expect((await setVhost({ nonce })).status).toBe(200);
  });

  it('wrong version: 400 InvalidVersion; unknown action: 404 InvalidAction.NotFound', async () => {
    await refusedWritesNothing(() => setVhost({ version: '2019-08-21' }), 400, 'InvalidVersion');
    await refusedWritesNothing(() => acs3({ ...base(), action: 'DropAllTables', params: common() }), 404, 'InvalidAction.NotFound');
  });

  it('tampered body under ACS3: 400 SignatureDoesNotMatch', async () => {
    await refusedWritesNothing(() => setVhost({ tamperBody: (b) => b.replace(/neg\d+\.h5app\.com/, 'evil.h5app.com') }), 400, 'SignatureDoesNotMatch');
  });

  it('another tenant\'s AppId or TenantId: 403 Forbidden', async () => {
    await refusedWritesNothing(
      () => acs3({ ...base(), action: 'CreateMcubeVhost', params: { AppId: otherApp, WorkspaceId: 'default', Vhost: 'steal.h5app.com' } }),
      403,
      'Forbidden',
      'mutating',
    );
    await refusedWritesNothing(() => acs3({ ...base(), action: 'QueryMcubeVhost', params: { AppId: otherApp, WorkspaceId: 'default' } }), 403, 'Forbidden', 'read');
    await refusedWritesNothing(
      () => acs3({ ...base(), action: 'CreateMcubeVhost', params: { ...common(), TenantId: 'TENANT02', Vhost: 'x.h5app.com' } }),
      403,
      'Forbidden',
      'mutating',
    );
  });

  it('oversized body: 413 RequestTooLarge', async () => {
    const max = srv.node.deps.config.http.maxBodyBytes;
    await refusedWritesNothing(() => setVhost({ bodyBytes: max + 10 }), 413, 'RequestTooLarge');
  });

  it('missing or invalid parameters: 400 MissingParameter / InvalidParameter', async () => {
    await refusedWritesNothing(() => acs3({ ...base(), action: 'CreateMcubeVhost', params: common() }), 400, 'MissingParameter', 'mutating');
    await refusedWritesNothing(() => acs3({ ...base(), action: 'CreateMcubeVhost', params: { ...common(), Vhost: 'a'.repeat(300) } }), 400, 'InvalidParameter', 'mutating');
    await refusedWritesNothing(() => acs3({ ...base(), action: 'QueryMcubeVhost', params: { WorkspaceId: 'default' } }), 400, 'MissingParameter', 'read');
    // an integer is decimal digits: JSON-schema coercion alone would read "0x10" as 16, "1e1" as 10 and "  " as 0
    for (const PageSize of ['0x10', '1e1', '1.5', '12abc']) {
      await refusedWritesNothing(() => acs3({ ...base(), action: 'ListMcubeWhitelists', params: { ...common(), PageSize } }), 400, 'InvalidParameter', 'read');
    }
    // blank is absent (the default page size), as an empty value is
    const blank = await acs3({ ...base(), action: 'ListMcubeWhitelists', params: { ...common(), PageSize: '  ', PageNum: ' 1 ' } });
    expect(blank.status, blank.text).toBe(200);
    expect(blank.body.ListWhitelistResult).toMatchObject({ Success: true, PageSize: 20, CurrentPage: 1 });
  });

  it('malformed transport: no signature, duplicate parameters, bad percent-encoding, wrong content type', async () => {
    expectPop(await send(srv.host, 'GET', '/?Action=QueryMcubeVhost&Version=2020-10-28', { host: srv.host }), 400, 'MissingParameter');
    expectPop(await send(srv.host, 'GET', '/?Action=A&Action=B', { host: srv.host }), 400, 'InvalidParameter');
    expectPop(await send(srv.host, 'GET', '/?Action=%zz', { host: srv.host }), 400, 'InvalidParameter');
    expectPop(await send(srv.host, 'GET', '/?Action=%C3%28', { host: srv.host }), 400, 'InvalidParameter');
    expectPop(await send(srv.host, 'POST', '/', { host: srv.host, 'content-type': 'application/json' }, '{"Action":"x"}'), 400, 'InvalidParameter');
    // a type that only starts like a form is no form (signature 1.0 does not sign the header, so the call is otherwise good)
    const form = signV1(base(), 'QueryMcubeVhost', common(), 'POST');
    const headers = Object.fromEntries(form.headers.map(([k, v]) => [k, k === 'content-type' ? 'application/x-www-form-urlencodedX' : v]));
    expectPop(await send(srv.host, 'POST', '/', headers, form.body), 400, 'InvalidParameter');
    // without SignatureMethod or SignatureVersion a 1.0 call lacks a parameter
    for (const drop of ['SignatureMethod', 'SignatureVersion']) {
      const get = signV1(base(), 'QueryMcubeVhost', common(), 'GET');
      const target = get.target.replace(new RegExp(`&?${drop}=[^&]*`), '');
      expectPop(await send(srv.host, 'GET', target, { host: srv.host }), 400, 'MissingParameter');
    }
  });

  it('methods other than GET and POST, CONNECT included: 405 UnsupportedHTTPMethod', async () => {
    await refusedWritesNothing(() => send(srv.host, 'PUT', '/', { host: srv.host }), 405, 'UnsupportedHTTPMethod');
    // node gives CONNECT to a separate listener and, without one, drops the connection unanswered
    const r = await exchange(srv.host, { parts: [{ bytes: Buffer.from(`CONNECT ${srv.host} HTTP/1.1\r\nhost: ${srv.host}\r\n\r\n`) }], timeoutMs: 5000 });
    expect(r.status).toBe(405);
    expect(r.json.Code).toBe('UnsupportedHTTPMethod');
    expect(r.headers['x-acs-request-id']).toBe(r.json.RequestId);
    expect(r.json.HostId).toBe(srv.host);
    // HTTP that node's parser refuses is answered with the host the node listens on (it was started on port 0)
    const bad = await exchange(srv.host, { parts: [{ bytes: Buffer.from('GET / HTTP/1.1\r\nbad header line\r\n\r\n') }], timeoutMs: 5000 });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ Code: 'InvalidParameter', HostId: srv.host });
  });

  it('business failures are HTTP 200 with ResultCode other than OK and Success false', async () => {
    const r = await acs3({ ...base(), action: 'CreateMcubeVhost', params: { ...common(), Vhost: 'not a domain' } });
    expect(r.status).toBe(200);
    expect(r.body.ResultCode).toBe('InvalidVhost');
    expect(r.body.CreateVhostResult.Success).toBe(false);
    expect(r.body.CreateVhostResult.ResultMsg).toMatch(/Vhost/);
  });
});

describe('throttling and internal errors', () => {
  it('answers 429 Throttling.User with x-acs-retry-after past the per-key limit', async () => {
    const s = await startTestServer({ MCUBE_RATE_LIMIT: '3' });
    try {
      const rs = await Promise.all(
        Array.from({ length: 10 }, () => acs3({ host: s.host, accessKeyId: s.creds.accessKeyId, secret: s.creds.accessKeySecret, action: 'QueryMcubeVhost', params: { AppId: s.creds.appId, WorkspaceId: 'default' } })),
      );
      const throttled = rs.filter((r) => r.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      expect(throttled[0]!.body.Code).toBe('Throttling.User');
      expect(Number(throttled[0]!.headers['x-acs-retry-after'])).toBeGreaterThanOrEqual(1);
      // the caller was authenticated: its refusal is logged with its tenant, and a state-changing one is audited
      const writes = await Promise.all(
        Array.from({ length: 10 }, (_, i) => acs3({ host: s.host, accessKeyId: s.creds.accessKeyId, secret: s.creds.accessKeySecret, action: 'CreateMcubeVhost', params: { AppId: s.creds.appId, WorkspaceId: 'default', Vhost: `t${i}.h5app.com` } })),
      );
      const refused = writes.find((r) => r.status === 429)!;
      expect(refused).toBeDefined();
      const line = s.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === refused.body.RequestId && l.msg === 'rpc');
      expect(line).toMatchObject({ tenantId: s.creds.tenantId, accessKeyId: s.creds.accessKeyId, code: 'Throttling.User' });
      expect(await s.node.deps.db.knex('audit_log').where({ request_id: refused.body.RequestId }).select('result_code', 'http_status', 'tenant_id')).toEqual([
        { result_code: 'Throttling.User', http_status: 429, tenant_id: s.creds.tenantId },
      ]);
    } finally {
      await s.close();
    }
  });

  it('answers 500 InternalError when the database is gone, and logs it', async () => {
    const s = await startTestServer();
    try {
      await s.node.deps.db.close();
      const r = await acs3({ host: s.host, accessKeyId: s.creds.accessKeyId, secret: s.creds.accessKeySecret, action: 'QueryMcubeVhost', params: { AppId: s.creds.appId, WorkspaceId: 'default' } });
      expect(r.status).toBe(500);
      expect(r.body.Code).toBe('InternalError');
      expect(s.logs.some((l) => JSON.parse(l).msg === 'unhandled error')).toBe(true);
    } finally {
      s.node.deps.db.close = async () => {};
      await s.close();
    }
  });
});

describe('request log', () => {
  it('writes one JSON line per call with the request id, action, tenant, status and latency, and no secrets', async () => {
    const r = await setVhost();
    const line = srv.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === r.body.RequestId);
    expect(line).toMatchObject({ msg: 'rpc', action: 'CreateMcubeVhost', tenantId: srv.creds.tenantId, accessKeyId: srv.creds.accessKeyId, status: 200, code: 'OK' });
    expect(typeof line.latencyMs).toBe('number');
    const all = srv.logs.join('\n');
    expect(all).not.toContain(srv.creds.accessKeySecret);
    expect(all).not.toMatch(/Signature=[0-9a-f]{64}/);
  });

  it('a refused call is logged with the AccessKey id it claimed, so an operator can tell which key fails', async () => {
    const r = await setVhost({ secret: 'not-the-secret-at-all-0000' });
    expect(r.status).toBe(400);
    const line = srv.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === r.body.RequestId);
    expect(line).toMatchObject({ msg: 'rpc', code: 'SignatureDoesNotMatch', status: 400, accessKeyId: srv.creds.accessKeyId, tenantId: null });
  });

  it('records mutating actions in the audit log with the request id', async () => {
    const r = await setVhost();
    const row = await srv.node.deps.db.knex('audit_log').where({ request_id: r.body.RequestId }).first();
    expect(row).toMatchObject({ action: 'CreateMcubeVhost', tenant_id: srv.creds.tenantId, access_key_id: srv.creds.accessKeyId, result_code: 'OK' });
    expect(JSON.parse(row.params).Vhost).toMatch(/^neg\d+\.h5app\.com$/);
  });
});
