import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeH5Zip, uploadFile, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';

/**
 * Deletes racing the calls that read or extend what they delete. Each answer
 * must be a business answer (OK or a not-found code); an HTTP 500 (a deadlock
 * on PostgreSQL, a row read as present and gone a statement later) is a bug.
 * Races are not deterministic: every case runs several rounds (an audit saw
 * the old code fail 2 to 300 answers in 50 to 400 per case).
 */
let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
  const c = openapiCore(srv.host, srv.creds, undefined, { readTimeout: 60_000 });
  const scope = { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId };
  // openapi-core throws on HTTP 4xx/5xx: kept as an answer with its status
  call = async (action, body = {}) => {
    try {
      return (await c(action, { ...scope, ...body })).body;
    } catch (e) {
      const err = e as { statusCode?: number; code?: string; message?: string };
      return { httpStatus: err.statusCode ?? 0, Code: err.code, Message: String(err.message).slice(0, 300) };
    }
  };
  expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

const failures = (answers: Array<Record<string, any>>) => answers.filter((a) => a.httpStatus !== undefined);
const errorLines = () => srv.logs.filter((l) => l.includes('"level":"error"'));

async function publish(h5Id: string, version: string, fileUrl: string): Promise<Record<string, any>> {
  return call('CreateMcubeNebulaResource', {
    H5Id: h5Id, H5Name: `app ${h5Id}`, H5Version: version, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0',
    FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
  });
}

describe('deletes racing other calls', () => {
  it('DeleteMcubeNebulaApp against task status changes and task reads', async () => {
    const answers: Array<Record<string, any>> = [];
    for (let round = 0; round < 5; round++) {
      const h5 = `7200000${round}`;
      const p = await publish(h5, '1.0.0', await uploadFile(call, `${h5}.zip`, await makeH5Zip(h5)));
      const pkg = Number(p.CreateMcubeNebulaResourceReslult.NebulaResourceId);
      const tasks: string[] = [];
      for (let i = 0; i < 3; i++) tasks.push((await call('CreateMcubeNebulaTask', { PackageId: pkg, PublishType: 3 })).CreateMcubeNebulaTaskResult.NebulaTaskId);
      const shots: Array<Promise<Record<string, any>>> = [
        call('ChangeMcubeNebulaTaskStatus', { BizType: 'nebula', TaskId: tasks[0], TaskStatus: 3 }),
        call('ChangeMcubeNebulaTaskStatus', { BizType: 'nebula', TaskId: tasks[1], TaskStatus: 2 }),
      ];
      for (let i = 0; i < 12; i++) {
        if (i === 3) shots.push(call('DeleteMcubeNebulaApp', { H5Id: h5 }));
        shots.push(call('GetMcubeNebulaTaskDetail', { TaskId: Number(tasks[2]) }), call('ListMcubeNebulaTasks', { Id: pkg }));
      }
      answers.push(...(await Promise.all(shots)));
    }
    expect(failures(answers)).toEqual([]);
    for (const a of answers) expect(['OK', 'NebulaTaskNotFound', 'NebulaResourceNotFound', 'InvalidTaskStatusChange']).toContain(a.ResultCode);
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('DeleteMcubeNebulaApp against new versions of the same H5 app', async () => {
    const answers: Array<Record<string, any>> = [];
    for (let round = 0; round < 5; round++) {
      const h5 = `7100000${round}`;
      const url = await uploadFile(call, `${h5}.zip`, await makeH5Zip(h5));
      expect((await publish(h5, '1.0.0', url)).ResultCode).toBe('OK');
      const shots = Array.from({ length: 5 }, (_, i) => publish(h5, `1.1.${i}`, url));
      await new Promise((r) => setTimeout(r, 10 + round * 10));
      shots.push(call('DeleteMcubeNebulaApp', { H5Id: h5 }));
      answers.push(...(await Promise.all(shots)));
    }
    expect(failures(answers)).toEqual([]);
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('DeleteMcubeUpgradeResource against reads of its tasks', async () => {
    const answers: Array<Record<string, any>> = [];
    for (let round = 0; round < 5; round++) {
      const pkg = Number((await call('CreateMcubeUpgradePackage', { Platform: 'Android', AppVersion: `3.${round}.0`, DownloadUrl: 'https://example.com/a.apk', OnexFlag: true })).ResultContent.Data);
      const task = (await call('CreateMcubeUpgradeTask', { PackageInfoId: pkg, PublishType: 3, UpgradeType: 202 })).CreateTaskResult.upgradeTaskId;
      const shots: Array<Promise<Record<string, any>>> = [];
      for (let i = 0; i < 12; i++) {
        if (i === 3) shots.push(call('DeleteMcubeUpgradeResource', { Id: String(pkg) }));
        shots.push(call('GetMcubeUpgradeTaskInfo', { TaskId: Number(task) }), call('QueryMdsUpgradeTaskDetail', { TaskId: Number(task) }));
      }
      answers.push(...(await Promise.all(shots)));
    }
    expect(failures(answers)).toEqual([]);
    expect(errorLines()).toEqual([]);
  }, 120_000);

  it('DeleteMcubeWhitelist against CreateMcubeWhitelistForIde of the same list', async () => {
    const answers: Array<Record<string, any>> = [];
    for (let round = 0; round < 5; round++) {
      const id = (await call('CreateMcubeWhitelistForIde', { UserId: `dev${round}`, WhitelistValue: 'a' })).CreateWhitelistForIdeResult.WhitelistId;
      const shots: Array<Promise<Record<string, any>>> = [];
      for (let i = 0; i < 12; i++) {
        if (i === 2 || i === 6) shots.push(call('DeleteMcubeWhitelist', { Id: Number(id) }));
        shots.push(call('CreateMcubeWhitelistForIde', { UserId: `dev${round}`, WhitelistValue: `u${i}` }));
      }
      answers.push(...(await Promise.all(shots)));
    }
    expect(failures(answers)).toEqual([]);
    expect(errorLines()).toEqual([]);
  }, 120_000);
});
