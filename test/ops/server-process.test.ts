import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { openapiCore } from '../helpers/vendor-clients.js';
import { ADMIN_MAIN, SERVER_MAIN, runCommand, startServerProcess, type ServerProcess } from '../helpers/process.js';
import { makeTestEnv, type TestEnv } from '../helpers/server.js';

const envs: TestEnv[] = [];
const procs: ServerProcess[] = [];
afterAll(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  for (const e of envs) await e.cleanup();
});

/** An environment with no bootstrap key, as on a user's first start. */
function firstStartEnv() {
  const e = makeTestEnv();
  envs.push(e);
  const env = { ...e.env };
  delete env.MCUBE_BOOTSTRAP_ACCESS_KEY_ID;
  delete env.MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET;
  return env;
}

/** The error of the first refused QueryMcubeVhost within 4 s (key caches hold a key for a second per node), else null. */
async function refusalWithin(call: ReturnType<typeof openapiCore>, scope: Record<string, string>): Promise<any> {
  for (let i = 0; i < 40; i++) {
    const err = await call('QueryMcubeVhost', scope).then(() => null, (e) => e);
    if (err) return err;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

describe('the server process', () => {
  it('prints a generated AccessKey once on first start, serves health checks, and works with that key', async () => {
    const env = firstStartEnv();
    const p1 = await startServerProcess(env);
    procs.push(p1);
    const id = /MPAAS_AK_ENV=(\S+)/.exec(p1.stderr())?.[1];
    const secret = /MPAAS_SK_ENV=(\S+)/.exec(p1.stderr())?.[1];
    expect(id).toMatch(/^MCAK/);
    expect(secret?.length).toBeGreaterThanOrEqual(16);
    expect((await fetch(p1.url + '/healthz')).status).toBe(200);
    const ready = await fetch(p1.url + '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
    const call = openapiCore(p1.host, { accessKeyId: id!, accessKeySecret: secret! });
    const r = await call('QueryMcubeVhost', { AppId: 'ALIPUB0000001', WorkspaceId: 'default' });
    expect(r.body.QueryVhostResult.Success).toBe(true);
    expect(await p1.stop()).toBe(0);
    // The secret is never printed again.
    const p2 = await startServerProcess(env);
    procs.push(p2);
    expect(p2.stderr()).not.toContain(secret);
    expect(p2.stderr()).toContain(id);
    expect(await p2.stop()).toBe(0);
    // bootstrap settings only set up a new database: changed later, they are reported, not silently dropped
    const p3 = await startServerProcess({ ...env, MCUBE_BOOTSTRAP_CLIENT_KEY: 'mck_' + 'x'.repeat(32) });
    procs.push(p3);
    expect(p3.stderr()).toMatch(/warning: MCUBE_BOOTSTRAP_CLIENT_KEY differs from the stored device client key/);
    expect(await p3.stop()).toBe(0);
    const p4 = await startServerProcess({ ...env, MCUBE_BOOTSTRAP_ACCESS_KEY_ID: id!, MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET: 'not-the-stored-secret-000000' });
    procs.push(p4);
    expect(p4.stderr()).toMatch(/warning: MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET is not the stored secret/);
    expect(p4.stderr()).not.toContain('not-the-stored-secret');
    expect(await p4.stop()).toBe(0);
  });

  it('a first start that cannot listen keeps no secret it never printed; with MCUBE_PORT=0 links carry the port picked', async () => {
    const env = firstStartEnv();
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    try {
      const failed = await runCommand(process.execPath, [SERVER_MAIN], { ...env, MCUBE_PORT: String((busy.address() as AddressInfo).port) });
      expect(failed.code).toBe(1);
      expect(failed.stderr).not.toContain('MPAAS_SK_ENV');
      // one line that says what to do, not a stack trace
      expect(failed.stderr).toContain(`cannot listen on 127.0.0.1:${(busy.address() as AddressInfo).port}: the port is in use by another process; choose another with MCUBE_PORT`);
      expect(failed.stderr).not.toMatch(/^\s+at /m);
    } finally {
      busy.close();
    }
    // the next start is the first that listens: it generates the key and shows its secret
    const p = await startServerProcess(env);
    procs.push(p);
    const id = /MPAAS_AK_ENV=(\S+)/.exec(p.stderr())?.[1];
    const secret = /MPAAS_SK_ENV=(\S+)/.exec(p.stderr())?.[1];
    expect(id).toMatch(/^MCAK/);
    expect(secret).toBeTruthy();
    // MCUBE_PORT=0 and no MCUBE_PUBLIC_URL: the upload host is this node's address, not port 0
    const token = await openapiCore(p.host, { accessKeyId: id!, accessKeySecret: secret! })('GetMcubeFileToken', { AppId: 'ALIPUB0000001', WorkspaceId: 'default', OnexFlag: true });
    expect(token.body.GetFileTokenResult.FileToken.Host).toBe(`${p.url}/_storage/obj`);
    expect(await p.stop()).toBe(0);
  });

  it('admin provisions a tenant, app and key the running server accepts; rotation keeps the old key until its grace ends', async () => {
    const env = firstStartEnv();
    const p = await startServerProcess(env);
    procs.push(p);
    const admin = (...args: string[]) => runCommand(process.execPath, [ADMIN_MAIN, ...args, '--json'], env);
    expect((await admin('tenants', 'create', 'ACME01')).code).toBe(0);
    const app = await admin('apps', 'create', 'ACMEAPP0000001', '--tenant', 'ACME01');
    expect(JSON.parse(app.stdout)).toMatchObject({ appId: 'ACMEAPP0000001', workspaceId: 'default' });
    const key = JSON.parse((await admin('keys', 'create', '--tenant', 'ACME01')).stdout);
    const scope = { AppId: 'ACMEAPP0000001', WorkspaceId: 'default' };
    const oldCall = openapiCore(p.host, { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret });
    expect((await oldCall('CreateMcubeVhost', { ...scope, Vhost: 'acme.h5app.com' })).body.ResultCode).toBe('OK');
    // The new tenant cannot reach the bootstrap tenant's app.
    const denied: any = await oldCall('QueryMcubeVhost', { AppId: 'ALIPUB0000001', WorkspaceId: 'default' }).catch((e) => e);
    expect(denied.code).toBe('Forbidden');

    const rotated = JSON.parse((await admin('keys', 'rotate', key.accessKeyId, '--grace-seconds', '3600')).stdout);
    const newCall = openapiCore(p.host, { accessKeyId: rotated.accessKeyId, accessKeySecret: rotated.accessKeySecret });
    expect((await newCall('QueryMcubeVhost', scope)).body.QueryVhostResult.Data).toBe('acme.h5app.com');
    expect((await oldCall('QueryMcubeVhost', scope)).body.QueryVhostResult.Data).toBe('acme.h5app.com');

    expect((await admin('keys', 'disable', key.accessKeyId)).code).toBe(0);
    expect((await refusalWithin(oldCall, scope))?.code).toBe('InvalidAccessKeyId.Inactive');
    expect((await newCall('QueryMcubeVhost', scope)).body.ResultCode).toBe('OK');

    // an ended key stays ended: rotating it again with a longer grace does not bring it back, enable refuses it
    const rotatedNow = JSON.parse((await admin('keys', 'rotate', rotated.accessKeyId, '--grace-seconds', '0')).stdout);
    const again = JSON.parse((await admin('keys', 'rotate', rotated.accessKeyId, '--grace-seconds', '3600')).stdout);
    expect(Date.parse(again.previousExpiresAt)).toBeLessThanOrEqual(Date.parse(rotatedNow.previousExpiresAt));
    const enabled = await admin('keys', 'enable', rotated.accessKeyId);
    expect(enabled.code).toBe(2);
    expect(enabled.stderr).toMatch(/expired .* cannot be enabled/);
    const listed = JSON.parse((await admin('keys', 'list', '--tenant', 'ACME01')).stdout) as Array<{ id: string; expired: boolean }>;
    expect(listed.find((k) => k.id === rotated.accessKeyId)?.expired).toBe(true);
    expect((await refusalWithin(newCall, scope))?.code).toBe('InvalidAccessKeyId.Inactive');

    // a disabled tenant: every key of it refused on every node within a second; enabled again, they work
    const third = JSON.parse((await admin('keys', 'create', '--tenant', 'ACME01')).stdout);
    const thirdCall = openapiCore(p.host, { accessKeyId: third.accessKeyId, accessKeySecret: third.accessKeySecret });
    expect((await thirdCall('QueryMcubeVhost', scope)).body.ResultCode).toBe('OK');
    expect((await admin('tenants', 'disable', 'ACME01')).code).toBe(0);
    expect((await refusalWithin(thirdCall, scope))?.code).toBe('InvalidAccessKeyId.Inactive');
    expect((await admin('tenants', 'enable', 'ACME01')).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await thirdCall('QueryMcubeVhost', scope)).body.ResultCode).toBe('OK');
    expect((await admin('tenants', 'disable', 'NOSUCH')).code).toBe(2);

    // a workspace's device client key rotated: the new key serves devices at once, the old one during the grace
    const before = JSON.parse(app.stdout).clientKey as string;
    const rot = JSON.parse((await admin('workspaces', 'rotate-client-key', 'ACMEAPP0000001', 'default', '--grace-seconds', '600')).stdout);
    expect(rot).toMatchObject({ appId: 'ACMEAPP0000001', workspaceId: 'default', previous: before, clientKey: expect.stringMatching(/^mck_/) });
    for (const k of [rot.clientKey, before]) {
      const res = await fetch(`${p.url}/device/nebula/update`, { method: 'POST', headers: { 'x-mcube-client-key': k, 'content-type': 'application/x-www-form-urlencoded' }, body: 'platform=android&client=1.0' });
      expect(res.status, k).toBe(200);
    }
    expect((await admin('workspaces', 'rotate-client-key', 'ACMEAPP0000001', 'nope')).code).toBe(2);

    const audit = JSON.parse((await admin('audit', 'list', '--tenant', 'ACME01')).stdout);
    expect(audit.some((a: any) => a.action === 'CreateMcubeVhost' && a.params.Vhost === 'acme.h5app.com' && a.accessKeyId === key.accessKeyId)).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(key.accessKeySecret);
    // the admin command's own changes are in the audit log too, without secrets
    expect(audit.map((a: any) => a.action)).toEqual(
      expect.arrayContaining(['admin tenants create', 'admin apps create', 'admin keys create', 'admin keys rotate', 'admin keys disable', 'admin tenants disable', 'admin tenants enable', 'admin workspaces rotate-client-key']),
    );
    for (const secret of [rotated.accessKeySecret, third.accessKeySecret]) expect(JSON.stringify(audit)).not.toContain(secret);
    // filters that mean nothing are refused, not read as "no filter" or "nothing"
    for (const bad of [['--limit', 'abc'], ['--limit', '0'], ['--since', 'yesterday']]) {
      const r = await admin('audit', 'list', ...bad);
      expect(r.code, bad.join(' ')).toBe(2);
      expect(r.stdout, bad.join(' ')).toBe('');
    }
    await p.stop();
  });

  it('bootstrap settings the node cannot use stop the start with one line naming the variable, and leave nothing behind', async () => {
    const e = makeTestEnv();
    envs.push(e);
    const run = (over: Record<string, string>) => runCommand(process.execPath, [SERVER_MAIN], { ...e.env, ...over });
    const refusals: Array<[Record<string, string>, string]> = [
      [{ MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET: 'short' }, 'mcube: MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET must have at least 16 characters, got 5'],
      [{ MCUBE_BOOTSTRAP_ACCESS_KEY_ID: 'bad key!' }, 'mcube: MCUBE_BOOTSTRAP_ACCESS_KEY_ID must be 1-64 characters of A-Z a-z 0-9 _ -, got "bad key!"'],
      [{ MCUBE_BOOTSTRAP_TENANT_ID: 'a/b' }, 'mcube: MCUBE_BOOTSTRAP_TENANT_ID must be 1-64 characters'],
      [{ MCUBE_BOOTSTRAP_CLIENT_KEY: 'with space' }, 'mcube: MCUBE_BOOTSTRAP_CLIENT_KEY must be 1-64 visible ASCII characters'],
      [{ MCUBE_HOST: 'nosuch.invalid' }, 'check MCUBE_HOST'],
      [{ MCUBE_HOST: '999.1.1.1' }, 'mcube: MCUBE_HOST "999.1.1.1" is not an address to listen on'],
      // an id without its secret used to generate a key and print its secret, where a CI setup expected its own
      [{ MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET: '' }, 'mcube: MCUBE_BOOTSTRAP_ACCESS_KEY_ID and MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET go together'],
    ];
    for (const [over, line] of refusals) {
      const r = await run(over);
      expect({ over, code: r.code }).toEqual({ over, code: 1 });
      expect(r.stderr).toContain(line);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
    // a database set up for tenant TENANT01, restarted with another tenant for the same app
    const p = await startServerProcess(e.env);
    expect(await p.stop()).toBe(0);
    const moved = await run({ MCUBE_BOOTSTRAP_TENANT_ID: 'OTHER01' });
    expect(moved.code).toBe(1);
    expect(moved.stderr).toContain('mcube: MCUBE_BOOTSTRAP_APP_ID ALIPUB0000001 belongs to tenant TENANT01, not to MCUBE_BOOTSTRAP_TENANT_ID OTHER01');
    expect(moved.stderr).not.toMatch(/^\s+at /m);
    const tenants = await runCommand(process.execPath, [ADMIN_MAIN, 'tenants', 'list', '--json'], e.env);
    expect(JSON.parse(tenants.stdout).map((t: { id: string }) => t.id)).toEqual(['TENANT01']);
  });

  it('a node or admin run with another master key than the database was set up with refuses to start, saying why', async () => {
    const e = makeTestEnv();
    envs.push(e);
    const p = await startServerProcess(e.env);
    procs.push(p);
    const other = { ...e.env, MCUBE_MASTER_KEY: randomBytes(32).toString('base64'), MCUBE_LOG_LEVEL: 'warn' };
    const node = await runCommand(process.execPath, [SERVER_MAIN], other);
    expect(node.code).not.toBe(0);
    expect(node.stderr).toMatch(/^mcube: The master key does not open the secrets in this database/);
    expect(node.stderr).not.toMatch(/^\s+at /m);
    const admin = await runCommand(process.execPath, [ADMIN_MAIN, 'keys', 'list'], other);
    expect(admin.code).not.toBe(0);
    expect(admin.stderr).toMatch(/master key does not open/);
    // the node set up with the right key goes on
    expect((await fetch(p.url + '/readyz')).status).toBe(200);
    expect(await p.stop()).toBe(0);
  });

  it('drains a request in flight on SIGTERM, then exits 0', async () => {
    const e = makeTestEnv();
    envs.push(e);
    const p = await startServerProcess(e.env);
    procs.push(p);
    // A signed call whose body arrives slowly: SIGTERM lands while it is in flight.
    const body = 'AppId=ALIPUB0000001&Vhost=drain.h5app.com&WorkspaceId=default';
    const headers: Record<string, string> = {
      host: p.host,
      'x-acs-action': 'CreateMcubeVhost',
      'x-acs-version': '2020-10-28',
      'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      'x-acs-signature-nonce': randomBytes(16).toString('hex'),
      'content-type': 'application/x-www-form-urlencoded',
      'x-acs-content-sha256': createHash('sha256').update(body).digest('hex'),
    };
    const names = Object.keys(headers).sort();
    const canonical = ['POST', '/', '', names.map((n) => `${n}:${headers[n]}\n`).join(''), names.join(';'), headers['x-acs-content-sha256']].join('\n');
    const sig = createHmac('sha256', e.env.MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET!).update('ACS3-HMAC-SHA256\n' + createHash('sha256').update(canonical).digest('hex')).digest('hex');
    headers.authorization = `ACS3-HMAC-SHA256 Credential=${e.env.MCUBE_BOOTSTRAP_ACCESS_KEY_ID},SignedHeaders=${names.join(';')},Signature=${sig}`;
    const [hostname, port] = p.host.split(':');
    const done = new Promise<{ status: number; json: any; connection?: string }>((resolve, reject) => {
      const req = request({ hostname, port: Number(port), method: 'POST', path: '/', headers: { ...headers, connection: 'keep-alive' } }, (res) => {
        let t = '';
        res.on('data', (c) => (t += c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(t), connection: res.headers.connection }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        p.proc.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    const exited = new Promise<number | null>((r) => p.proc.once('exit', (code) => r(code)));
    const res = await done;
    expect(res.status).toBe(200);
    expect(res.json.CreateVhostResult.Success).toBe(true);
    // the socket will not take another request: said, so the client does not send one into a closing connection
    expect(res.connection).toBe('close');
    expect(await exited).toBe(0);
    await expect(fetch(p.url + '/healthz')).rejects.toThrow();
  });
  it('a second SIGTERM during the drain exits at once, with code 1; the same signal twice at once (npm forwarding it) is one stop', async () => {
    const e = makeTestEnv({ MCUBE_SHUTDOWN_GRACE_MS: '2000' });
    envs.push(e);
    const stopWith = async (gapMs: number) => {
      const p = await startServerProcess(e.env);
      procs.push(p);
      const [hostname, port] = p.host.split(':');
      // a request that never finishes its body keeps the drain waiting for the whole grace
      const req = request({ hostname, port: Number(port), method: 'POST', path: '/', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '100' } });
      req.on('error', () => {});
      req.write('AppId=');
      await new Promise((r) => setTimeout(r, 200));
      const exited = new Promise<number | null>((r) => p.proc.once('exit', (code) => r(code)));
      p.proc.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, gapMs));
      p.proc.kill('SIGTERM');
      const code = await exited;
      req.destroy();
      return { code, forced: /second signal: exiting without waiting for the drain/.test(p.stdout()) };
    };
    expect(await stopWith(50)).toEqual({ code: 0, forced: false });
    expect(await stopWith(1700)).toEqual({ code: 1, forced: true });
  });

  it('MCUBE_SHUTDOWN_DELAY_MS: after SIGTERM /readyz fails at once while requests are still served, then the node exits 0', async () => {
    const e = makeTestEnv({ MCUBE_SHUTDOWN_DELAY_MS: '1500' });
    envs.push(e);
    const p = await startServerProcess(e.env);
    procs.push(p);
    expect((await fetch(p.url + '/readyz')).status).toBe(200);
    const exited = new Promise<number | null>((r) => p.proc.once('exit', (code) => r(code)));
    const t0 = Date.now();
    p.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    const ready = await fetch(p.url + '/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'draining' });
    expect(ready.headers.get('connection')).toBe('close');
    // still serving the API while the balancer takes the node out
    const call = openapiCore(p.host, { accessKeyId: e.env.MCUBE_BOOTSTRAP_ACCESS_KEY_ID!, accessKeySecret: e.env.MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET! });
    const r = await call('QueryMcubeVhost', { AppId: e.env.MCUBE_BOOTSTRAP_APP_ID, WorkspaceId: e.env.MCUBE_BOOTSTRAP_WORKSPACE_ID });
    expect(r.body.ResultCode).toBe('OK');
    expect(await exited).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1500);
    await expect(fetch(p.url + '/healthz')).rejects.toThrow();
  });
});
