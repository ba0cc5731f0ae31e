import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { inspect } from 'node:util';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistry } from '../../packages/server/src/actions.js';
import {
  ACTIONS,
  McubeBusinessError,
  McubeClient,
  McubeClientError,
  McubeNetworkError,
  assertSuccess,
  packOfflinePackageToBuffer,
  publishOfflinePackage,
  uploadFile,
  type McubeClientOptions,
} from '../../packages/sdk/src/index.js';
import { DEFAULT_H5_FILES, makeH5Zip } from '../helpers/nebula.js';
import { fakeApp } from '../upgrade/upgrade-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
const clientFor = (over: McubeClientOptions = {}) =>
  new McubeClient({
    endpoint: srv.url,
    accessKeyId: srv.creds.accessKeyId,
    accessKeySecret: srv.creds.accessKeySecret,
    appId: srv.creds.appId,
    workspaceId: srv.creds.workspaceId,
    tenantId: srv.creds.tenantId,
    env: {},
    ...over,
  });

beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

describe('the client covers the registry', () => {
  it('every registered action is a lowerCamel method of McubeClient, and nothing else is', () => {
    const registered = buildRegistry()
      .all()
      .map((d) => d.name)
      .sort();
    expect(ACTIONS.map((a) => a.name).sort()).toEqual(registered);
    const client = clientFor() as unknown as Record<string, unknown>;
    for (const name of registered) expect(typeof client[name.charAt(0).toLowerCase() + name.slice(1)], name).toBe('function');
  });

  it('keeps the result keys of the registry, quirks included', () => {
    const reg = buildRegistry();
    for (const a of ACTIONS) expect(a.resultKey, a.name).toBe(reg.get(a.name)!.resultKey);
    expect(ACTIONS.find((a) => a.name === 'CreateMcubeNebulaResource')?.resultKey).toBe('CreateMcubeNebulaResourceReslult');
  });
});

describe('calls, camelCase in and out', () => {
  it('sets and reads the vhost (ACS3-HMAC-SHA256)', async () => {
    const client = clientFor();
    const set = await client.createMcubeVhost({ vhost: 'sdk.h5app.com' });
    expect(set).toEqual({ requestId: set.requestId, resultCode: 'OK', resultMessage: '', createVhostResult: { data: 'success', resultMsg: '', success: true } });
    const got = await client.queryMcubeVhost({});
    expect(got.queryVhostResult.data).toBe('sdk.h5app.com');
    expect(got.requestId).toMatch(/^[0-9A-F-]{36}$/);
  });

  it('signs with HMAC-SHA1 signature 1.0 on request', async () => {
    const client = clientFor({ signatureAlgorithm: 'v2' });
    await client.createMcubeVhost({ vhost: 'v2.sdk.h5app.com' });
    expect((await client.queryMcubeVhost({})).queryVhostResult.data).toBe('v2.sdk.h5app.com');
  });

  it('takes the credentials and common parameters from MPAAS_* variables, and bare host:port', async () => {
    const client = new McubeClient({
      endpoint: srv.host,
      protocol: 'http',
      env: {
        MPAAS_AK_ENV: srv.creds.accessKeyId,
        MPAAS_SK_ENV: srv.creds.accessKeySecret,
        MPAAS_APP_ID: srv.creds.appId,
        MPAAS_WORKSPACE_ID: srv.creds.workspaceId,
      },
    });
    expect((await client.queryMcubeVhost({})).resultCode).toBe('OK');
    expect(() => new McubeClient({ endpoint: srv.url, env: {} })).toThrow(/MPAAS_AK_ENV/);
    // a secret pasted into a CI setting often ends with a newline
    const pasted = new McubeClient({ endpoint: srv.url, env: { MPAAS_AK_ENV: ` ${srv.creds.accessKeyId}\n`, MPAAS_SK_ENV: `${srv.creds.accessKeySecret}\r\n`, MPAAS_APP_ID: srv.creds.appId, MPAAS_WORKSPACE_ID: srv.creds.workspaceId } });
    expect((await pasted.queryMcubeVhost({})).resultCode).toBe('OK');
  });

  it('never shows the AccessKey secret: not in console.log, JSON or the enumerable fields', () => {
    const client = clientFor();
    const secret = srv.creds.accessKeySecret;
    expect(inspect(client, { showHidden: true, depth: 5 })).not.toContain(secret);
    expect(JSON.stringify(client)).not.toContain(secret);
    expect(Object.values(client).map(String).join(' ')).not.toContain(secret);
  });

  it('returns the upload token with FileToken in vendor spelling and FormFields verbatim', async () => {
    const r = await clientFor().getMcubeFileToken({ onexFlag: true });
    const t = r.getFileTokenResult.fileToken!;
    expect(t.accessid).toBeTruthy();
    expect(t.host).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(t.formFields!.key).toBe(`${t.dir}\${filename}`);
    expect(t.formFields).toHaveProperty('X-Amz-Signature', t.signature);
  });

  it('refuses a parameter the action does not have', async () => {
    await expect(clientFor().queryMcubeVhost({ vhost: 'x' } as never)).rejects.toThrow(/QueryMcubeVhost has no parameter "vhost"/);
  });

  it('callRaw sends wire names and returns the PascalCase answer untouched', async () => {
    const r = await clientFor().callRaw('QueryMcubeVhost', {});
    expect(r.statusCode).toBe(200);
    expect(r.body).toHaveProperty('QueryVhostResult.Success', true);
  });
});

describe('business failures', () => {
  it('are returned as the Java client returns them; assertSuccess turns them into McubeBusinessError', async () => {
    const r = await clientFor().createMcubeVhost({ vhost: 'not a domain' });
    expect(r.resultCode).toBe('InvalidVhost');
    expect(r.createVhostResult.success).toBe(false);
    const err = (() => {
      try {
        assertSuccess(r);
      } catch (e) {
        return e;
      }
    })() as McubeBusinessError;
    expect(err).toBeInstanceOf(McubeBusinessError);
    expect(err).toMatchObject({ code: 'InvalidVhost', requestId: r.requestId, action: 'CreateMcubeVhost', statusCode: 200 });
    expect(err.message).toMatch(/not a domain/);
  });

  it('throw with throwOnBusinessError, per client or per call', async () => {
    await expect(clientFor({ throwOnBusinessError: true }).createMcubeVhost({ vhost: '-' })).rejects.toMatchObject({
      name: 'McubeBusinessError',
      code: 'InvalidVhost',
      action: 'CreateMcubeVhost',
    });
    await expect(clientFor().deleteMcubeWhitelist({ id: 987654 }, { throwOnBusinessError: true })).rejects.toMatchObject({ code: 'WhitelistNotFound' });
  });
});

describe('protocol errors', () => {
  it('a wrong secret is McubeClientError SignatureDoesNotMatch with status and request id', async () => {
    const err = await clientFor({ accessKeySecret: 'wrong-secret-wrong-secret' })
      .queryMcubeVhost({})
      .catch((e) => e);
    expect(err).toBeInstanceOf(McubeClientError);
    expect(err).toMatchObject({ code: 'SignatureDoesNotMatch', statusCode: 400, action: 'QueryMcubeVhost' });
    expect(err.requestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(err.data).toHaveProperty('HostId');
  });

  it('an unknown key is InvalidAccessKeyId.NotFound (404), also with HMAC-SHA1', async () => {
    const err = await clientFor({ accessKeyId: 'NOSUCHKEY', signatureAlgorithm: 'v2' })
      .queryMcubeVhost({})
      .catch((e) => e);
    expect(err).toBeInstanceOf(McubeClientError);
    expect(err).toMatchObject({ code: 'InvalidAccessKeyId.NotFound', statusCode: 404 });
  });

  it('an answer without the OpenAPI envelope (another service at the endpoint) is InvalidResponse, never a success', async () => {
    const other = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      const { port } = other.address() as AddressInfo;
      const err = await clientFor({ endpoint: `http://127.0.0.1:${port}`, retry: false })
        .createMcubeVhost({ vhost: 'x.example.com' })
        .catch((e) => e);
      expect(err).toBeInstanceOf(McubeNetworkError);
      expect(err).toMatchObject({ code: 'InvalidResponse', action: 'CreateMcubeVhost' });
      expect(err.message).toMatch(/no ResultCode.*MCUBE_ENDPOINT/);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('a proxy\'s error page is named as something else answering, without its markup, and an HTTPS call to a plain HTTP server says to use http://', async () => {
    const page = '<html><head><style>body{color:red}</style></head><body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>';
    const proxy = createServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end(page));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const { port } = proxy.address() as AddressInfo;
      const err = await clientFor({ endpoint: `http://127.0.0.1:${port}`, retry: false })
        .queryMcubeVhost({})
        .catch((e) => e);
      expect(err).toMatchObject({ code: 'Http502', statusCode: 502 });
      expect(err.message).toBe('HTTP 502 without an mPaaS OpenAPI error body, so something else answered; check the endpoint (MCUBE_ENDPOINT): 502 Bad Gateway nginx');
      // a bare host:port is HTTPS; this server speaks plain HTTP (a wrong endpoint: not tried again)
      const retried: unknown[] = [];
      const tls = await clientFor({ endpoint: `127.0.0.1:${port}`, retry: { baseDelayMs: 1 }, onRetry: (e) => retried.push(e) })
        .queryMcubeVhost({})
        .catch((e) => e);
      expect(retried).toEqual([]);
      expect(tls).toBeInstanceOf(McubeNetworkError);
      expect(tls).toMatchObject({ code: 'PlainHttpServer' });
      expect(tls.message).toContain(`answered an HTTPS request in plain HTTP; give the endpoint as http://127.0.0.1:${port} (MCUBE_ENDPOINT)`);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a port that fetch never connects to is named as such', async () => {
    const err = await clientFor({ endpoint: 'http://127.0.0.1:10080', retry: false })
      .queryMcubeVhost({})
      .catch((e) => e);
    expect(err).toBeInstanceOf(McubeNetworkError);
    expect(err.code).toBe('BlockedPort');
    expect(err.message).toMatch(/port 10080/);
  });

  it('an unreachable endpoint is McubeNetworkError after the retries', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const attempts: number[] = [];
    const err = await new McubeClient({ endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'a', accessKeySecret: 'b', env: {}, retry: { baseDelayMs: 1 }, onRetry: (e) => attempts.push(e.attempt) })
      .queryMcubeVhost({ appId: 'A', workspaceId: 'w' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(McubeNetworkError);
    expect(err.code).toBe('ECONNREFUSED');
    expect(attempts).toEqual([1, 2]);
  });
});

describe('whitelists through the client', () => {
  it('create, add, list, remove a value and delete', async () => {
    const client = clientFor({ throwOnBusinessError: true });
    const created = await client.createMcubeWhitelist({ whiteListName: 'sdk-testers', whitelistType: 'normal' });
    const id = created.createWhitelistResult.whitelistId!;
    const added = await client.updateMcubeWhitelist({ id, keyIds: 'u1,u2,u3', onexFlag: true });
    expect(added.addWhitelistResult.addWhitelistInfo).toMatchObject({ successNum: 3, failNum: 0 });
    const listed = await client.listMcubeWhitelists({ whitelistName: 'sdk-test' });
    expect(listed.listWhitelistResult.whitelists).toEqual([expect.objectContaining({ id: Number(id), whiteListName: 'sdk-testers', whiteListCount: 3 })]);
    const removed = await client.deleteMdsWhitelistContent({ whitelistId: id, whitelistValue: 'u2' });
    expect(removed.resultContent.data).toMatchObject({ content: 'u2', success: true });
    const card = await client.deleteCubecardWhitelistContent({ whitelistId: id, whitelistValue: 'u3' });
    expect(card.resultContent.data).toMatchObject({ content: 'u3', success: true });
    await client.deleteMcubeWhitelist({ id: Number(id) });
    expect((await client.listMcubeWhitelists({ whitelistName: 'sdk-test' })).listWhitelistResult.totalCount).toBe(0);
  });

  it('the IDE variant creates ide-<user>', async () => {
    const r = await clientFor().createMcubeWhitelistForIde({ userId: 'dev1', whitelistValue: 'a,b' });
    expect(r.createWhitelistForIdeResult).toMatchObject({ success: true, whitelistId: expect.stringMatching(/^\d+$/) });
  });
});

describe('nebula through the client', () => {
  it('apps, keys, packages and tasks', async () => {
    const client = clientFor({ throwOnBusinessError: true });
    await client.createMcubeVhost({ vhost: 'h5app.com' });
    await client.createMcubeNebulaApp({ h5Id: '31415926', h5Name: 'pi' });
    expect((await client.listMcubeNebulaApps({ keyword: 'pi' })).listMcubeNebulaAppsResult.nebulaAppInfos).toEqual([{ h5Id: '31415926', h5Name: 'pi' }]);

    expect((await client.existMcubeRsaKey({}, { throwOnBusinessError: false })).checkRsaKeyResult).toMatchObject({ data: 'fail', success: false });
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const token = (await client.getMcubeFileToken({ onexFlag: true })).getFileTokenResult.fileToken!;
    const keyUrl = await uploadFile(token, Buffer.from(pem), { filename: 'private_key.pem' });
    expect((await client.uploadMcubeRsaKey({ fileUrl: keyUrl, onexFlag: true })).uploadRsaResult.success).toBe(true);
    expect((await client.existMcubeRsaKey({})).checkRsaKeyResult.data).toBe('success');

    const site = mkdtempSync(join(tmpdir(), 'mcube-sdk-site-'));
    for (const [name, text] of Object.entries(DEFAULT_H5_FILES)) {
      mkdirSync(dirname(join(site, name)), { recursive: true });
      writeFileSync(join(site, name), text);
    }
    const zip = await packOfflinePackageToBuffer(site, { h5Id: '31415926' });
    rmSync(site, { recursive: true, force: true });
    const pub = await publishOfflinePackage({ client, h5Id: '31415926', version: '1.0.0.0', zip, platform: 'Android', clientVersionMin: ';1.0.0', mainUrl: '/www/index.html', release: { type: 'official' } });

    const res = (await client.getMcubeNebulaResource({ id: pub.resourceId })).getNebulaResourceResult.nebulaResourceInfo!;
    expect(res).toMatchObject({ id: Number(pub.resourceId), h5Id: '31415926', h5Version: '1.0.0.0', platform: 'Android', clientVersionMin: ';1.0.0' });
    expect(res.md5).toMatch(/^[0-9a-f]{32}$/);
    await client.changeMcubeNebulaTaskStatus({ taskId: pub.taskId, packageId: pub.resourceId, taskStatus: 3, bizType: 'nebula' });
    const tasks = await client.listMcubeNebulaTasks({ id: Number(pub.resourceId) });
    expect(tasks.listMcubeNebulaTaskResult.nebulaTaskInfo).toEqual([expect.objectContaining({ id: Number(pub.taskId), taskStatus: 3 })]);
    expect((await client.getMcubeNebulaTaskDetail({ taskId: Number(pub.taskId) })).getMcubeNebulaTaskDetailResult.nebulaTaskDetail).toMatchObject({ taskStatus: 3, platform: 'Android' });
    expect((await client.listMcubeNebulaResources({ h5Id: '31415926' })).listMcubeNebulaResourceResult.totalCount).toBe(1);

    await client.deleteMcubeNebulaApp({ h5Id: '31415926' });
    expect((await client.listMcubeNebulaApps({ keyword: '31415926' })).listMcubeNebulaAppsResult.nebulaAppInfos).toEqual([]);
  });
});

describe('mini programs through the client', () => {
  it('create, upload, list, query, release, change, list tasks, delete', async () => {
    const client = clientFor({ throwOnBusinessError: true });
    const h5Id = '2718281828459045';
    await client.createMcubeVhost({ vhost: 'h5app.com' });
    expect((await client.createMcubeMiniApp({ h5Id, h5Name: 'e' })).createMiniResult.success).toBe(true);
    expect((await client.listMcubeMiniApps({ keyword: '27182818' })).listMiniResult.miniProgramList).toEqual([expect.objectContaining({ h5Id, h5Name: 'e' })]);
    const token = (await client.getMcubeFileToken({ onexFlag: true })).getFileTokenResult.fileToken!;
    const resourceFileUrl = await uploadFile(token, await makeH5Zip(h5Id), { filename: `${h5Id}.zip` });
    const up = await client.uploadMcubeMiniPackage({
      h5Id, h5Name: 'e', h5Version: '1.0.0', packageType: 1, resourceType: 1, platform: 'all', clientVersionMin: '1.0.0;1.0.0', resourceFileUrl,
      mainUrl: '/www/index.html', autoInstall: 1, installType: 1, enableKeepAlive: 'YES', enableOptionMenu: 'NO', enableTabBar: 0, userId: 'sdk', onexFlag: true,
    });
    const packageId = up.uploadMiniPackageResult.returnPackageResult!.packageId!;
    expect((await client.listMcubeMiniPackages({ h5Id, packageTypes: '1' })).listMiniPackageResult.miniPackageList).toEqual([expect.objectContaining({ id: Number(packageId), packageType: 1 })]);
    expect((await client.queryMcubeMiniPackage({ h5Id, id: packageId })).queryMiniPackageResult.miniPackageInfo).toMatchObject({ h5Version: '1.0.0', resourceType: 1 });
    const taskId = Number((await client.createMcubeMiniTask({ packageId: Number(packageId), publishType: 3, memo: 'all' })).createMiniTaskResult.miniTaskId);
    await client.changeMcubeMiniTaskStatus({ taskId, packageId: Number(packageId), taskStatus: 3, bizType: 'mini' });
    const mds = await client.createMdsMiniprogramTask({ id: 0, packageId: Number(packageId), publishType: 3, memo: 'mds' });
    expect(mds.resultContent.data).toMatchObject({ success: true, content: expect.stringMatching(/^\d+$/) });
    expect((await client.listMcubeMiniTasks({ id: packageId })).listMiniTaskResult.miniTaskList).toEqual([
      expect.objectContaining({ id: Number(mds.resultContent.data!.content), taskStatus: 1 }),
      expect.objectContaining({ id: taskId, taskStatus: 3, status: '1' }),
    ]);
    expect((await client.queryMcubeMiniTask({ taskId })).queryMiniTaskResult.miniTaskInfo).toMatchObject({ id: taskId, packageId: Number(packageId) });
    expect((await client.deleteMcubeMiniApp({ h5Id })).deleteMiniResult.success).toBe(true);
    expect((await client.listMcubeMiniApps({})).listMiniResult.totalCount).toBe(0);
  });
});

describe('switch configuration through the client', () => {
  it('create, list, update, switch off and on, export, import, delete', async () => {
    const client = clientFor({ throwOnBusinessError: true });
    const values = (v: string) => JSON.stringify([{ Value: v, Platform: 'ALL', Type: 'ALL' }]);
    expect((await client.createMcubeSwitchConfig({ configKey: 'sdk.flag', note: 'n', values: values('on') })).createSwitchConfigResult).toMatchObject({ success: true, configKey: 'sdk.flag' });
    await client.updateMcubeSwitchConfig({ configKey: 'sdk.flag', values: values('off') });
    await client.changeMcubeSwitchConfigStatus({ configKey: 'sdk.flag', enabled: false });
    const listed = (await client.listMcubeSwitchConfigs({ keyword: 'sdk.' })).listSwitchConfigResult.switchConfigs;
    expect(listed).toEqual([expect.objectContaining({ configKey: 'sdk.flag', enabled: false, values: [expect.objectContaining({ value: 'off', type: 'ALL' })] })]);
    const content = (await client.exportMcubeSwitchConfigs({})).exportSwitchConfigResult.content!;
    await client.deleteMcubeSwitchConfig({ configKey: 'sdk.flag' });
    expect((await client.importMcubeSwitchConfigs({ content })).importSwitchConfigResult.importedKeys).toEqual(['sdk.flag']);
    expect((await client.listMcubeSwitchConfigs({})).listSwitchConfigResult.switchConfigs).toEqual([expect.objectContaining({ configKey: 'sdk.flag', enabled: false })]);
  });
});

describe('upgrade packages and tasks through the client', () => {
  it('upload an .apk, create, list, get, release, read the task both ways, delete', async () => {
    const client = clientFor({ throwOnBusinessError: true });
    const token = (await client.getMcubeFileToken({ onexFlag: true })).getFileTokenResult.fileToken!;
    // the server checks the name (.apk) and that the content is a whole zip archive
    const apk = await fakeApp('sdk');
    const fileUrl = await uploadFile(token, apk, { filename: 'sdk.apk' });
    const created = await client.createMcubeUpgradePackage({ platform: 'Android', appVersion: '3.2.1', fileUrl, desc: 'sdk', onexFlag: true });
    const packageId = Number(created.resultContent.data);
    expect(packageId).toBeGreaterThan(0);
    const listed = await client.listMcubeUpgradePackages({ pageNum: 1, pageSize: 10 });
    expect(listed.listPackagesResult.packages).toEqual([expect.objectContaining({ id: packageId, platform: 'Android', productVersion: '3.2.1', changeLog: 'sdk' })]);
    const got = await client.getMcubeUpgradePackageInfo({ packageId });
    expect(got.getPackageResult.packageInfo?.upgradeBaseInfoDO).toMatchObject({ id: packageId, md5: expect.stringMatching(/^[0-9a-f]{32}$/) });
    const task = await client.createMcubeUpgradeTask({ packageInfoId: packageId, publishType: 3, upgradeType: 202, upgradeContent: 'update' });
    const taskId = Number(task.createTaskResult.upgradeTaskId);
    expect((await client.listMcubeUpgradeTasks({ packageId: String(packageId) })).listTaskResult.taskInfo).toEqual([expect.objectContaining({ id: taskId, upgradeType: 202 })]);
    expect((await client.getMcubeUpgradeTaskInfo({ taskId })).getTaskResult.taskInfo).toMatchObject({ id: taskId, upgradeContent: 'update' });
    expect((await client.queryMdsUpgradeTaskDetail({ taskId })).resultContent.data?.content).toMatchObject({ id: taskId, packageInfoId: packageId });
    expect((await client.deleteMcubeUpgradeResource({ id: String(packageId), platform: 'Android' })).deleteResult.success).toBe(true);
    expect((await client.listMcubeUpgradePackages({})).listPackagesResult.totalCount).toBe(0);
  });
});

describe('coverage', () => {
  it('this file called every registered action successfully at least once', () => {
    const answered = new Set(
      srv.logs
        .map((l) => JSON.parse(l) as { msg?: string; action?: string; code?: string })
        .filter((l) => l.msg === 'rpc' && l.code === 'OK')
        .map((l) => l.action),
    );
    const missing = buildRegistry()
      .all()
      .map((d) => d.name)
      .filter((n) => !answered.has(n));
    expect(missing).toEqual([]);
  });
});
