import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as netServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIN = join(import.meta.dirname, '..', '..', 'packages', 'sdk', 'bin', 'mcube.mjs');
const RID = /\(RequestId [0-9A-F-]{36}\)/;

let srv: TestServer;
let dir: string;

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(MPAAS_|MCUBE_)/.test(k)) env[k] = v;
  return {
    ...env,
    MCUBE_CLI_FROM_SOURCE: '1',
    MCUBE_ENDPOINT: srv.url,
    MPAAS_AK_ENV: srv.creds.accessKeyId,
    MPAAS_SK_ENV: srv.creds.accessKeySecret,
    MPAAS_APP_ID: srv.creds.appId,
    MPAAS_WORKSPACE_ID: srv.creds.workspaceId,
    MPAAS_TENANT_ID: srv.creds.tenantId,
  };
}

/** `node packages/sdk/bin/mcube.mjs ...` as a real process (async: the server answers from this process). */
function mcube(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const merged = { ...baseEnv(), ...env };
    for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
    const p = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: merged as Record<string, string>, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  srv = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'mcube-cli-'));
  mkdirSync(join(dir, 'dist', 'www'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'www', 'index.html'), '<!DOCTYPE html><html><body>cli</body></html>');
  writeFileSync(join(dir, 'dist', 'www', 'app.js'), 'console.log(1)');
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mcube (subprocess)', () => {
  it('vhost set / get, human and --json', async () => {
    const set = await mcube(['vhost', 'set', 'cli.h5app.com']);
    expect(set).toMatchObject({ code: 0, stdout: 'vhost set to cli.h5app.com\n' });
    const get = await mcube(['vhost', 'get', '--json']);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toMatchObject({ resultCode: 'OK', queryVhostResult: { data: 'cli.h5app.com', success: true } });
  });

  it('mcube api signs any action and prints the answer as sent; a business failure exits 4', async () => {
    const ok = await mcube(['api', 'QueryMcubeVhost']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ResultCode: 'OK', QueryVhostResult: { Data: 'cli.h5app.com', Success: true } });
    const v2 = await mcube(['api', 'QueryMcubeVhost', '--signature', 'v2', '--json']);
    expect(JSON.parse(v2.stdout).QueryVhostResult.Data).toBe('cli.h5app.com');
    const bad = await mcube(['api', 'CreateMcubeVhost', '--Vhost', 'not a domain']);
    expect(bad.code).toBe(4);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ResultCode: 'InvalidVhost', CreateVhostResult: { Success: false } });
    expect(bad.stderr).toMatch(/^error: InvalidVhost: .*not a domain.* \(RequestId [0-9A-F-]{36}\)\n$/);
  });

  it('mcube mini publish packs, uploads and releases a mini program; mini packages/tasks list it; mini pause/continue/end move its task', async () => {
    const MINI = '2024010100000042';
    mkdirSync(join(dir, 'mini'), { recursive: true });
    writeFileSync(join(dir, 'mini', 'index.html'), '<!DOCTYPE html><html><body>mini</body></html>');
    const bad = await mcube(['mini', 'publish', 'mini', '--h5-id', '12345678', '--version', '1.0', '--official']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('16-digit');
    const pub = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '1.0.0.1', '--official', '--package-type', '1', '--tab-bar', 'yes', '--json']);
    expect(pub.code, pub.stderr).toBe(0);
    const out = JSON.parse(pub.stdout);
    expect(out).toMatchObject({ h5Id: MINI, version: '1.0.0.1', packageId: expect.stringMatching(/^\d+$/), taskId: expect.stringMatching(/^\d+$/), release: { type: 'official' } });
    const listed = await mcube(['mini', 'packages', '--h5-id', MINI]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${out.packageId}\\s+${MINI} ${MINI}\\s+1\\.0\\.0\\.1\\s+1\\s+all`));
    for (const [word, status] of [['pause', 'paused'], ['continue', 'releasing'], ['end', 'finished']]) {
      const r = await mcube(['mini', word!, out.taskId]);
      expect(r, word).toMatchObject({ code: 0 });
      const tasks = await mcube(['mini', 'tasks', out.packageId]);
      expect(tasks.stdout).toMatch(new RegExp(`${out.taskId}\\s+official\\s+${status}`));
    }
    expect(await mcube(['mini', 'end', out.taskId])).toMatchObject({ code: 0, stdout: `task ${out.taskId} is finished already; nothing done\n` });
    expect((await mcube(['mini', 'continue', out.taskId])).code).toBe(4);
    // a version that exists: refused by the server (exit 4, its code); a percentage release is not a mini program release kind
    const again = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '1.0.0.1', '--official']);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^error: H5VersionExists: /m);
    expect((await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '1.0.0.2', '--gray-percent', '10'])).code).toBe(2);
    // refused before anything is uploaded
    for (const args of [['publish', 'mini', '--h5-id', MINI, '--version', '1.0.0.2', '--official', '--package-type', '100'], ['publish', 'nowhere.zip', '--h5-id', MINI, '--version', '1.0.0.2', '--official'], ['start', '99999999999999999999'], ['pause', '0'], ['tasks', 'x'], ['packages', '--h5-id', '12345678']]) {
      const r = await mcube(['mini', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^error: /);
    }
    expect(await srv.node.deps.db.knex('nebula_resources').where({ h5_id: MINI, h5_version: '1.0.0.2' }).first()).toBeUndefined();
  });

  it('a mini publish whose task step fails names the package that stays, in text and in --json; an unknown whitelist is refused before the upload', async () => {
    const MINI = '2024010100000043';
    const unknown = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '2.0.0.1', '--gray-whitelist', '999999', '--json']);
    expect(unknown.code).toBe(4);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ code: 'InvalidWhitelistIds', step: 'pack', message: expect.stringMatching(/999999 is no whitelist of this app and workspace; nothing was uploaded/) });
    expect(unknown.stderr).not.toMatch(/asking for an upload token|packing/);
    expect(await srv.node.deps.db.knex('nebula_resources').where({ h5_id: MINI }).first()).toBeUndefined();

    const list = JSON.parse((await mcube(['whitelist', 'create', '--name', 'mini-task-step', '--json'])).stdout).createWhitelistResult.whitelistId as string;
    // a reversed range: the server refuses the rule when the task is made
    const text = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '2.0.0.1', '--gray-whitelist', list, '--rule', 'os:within:9.0-1.0']);
    expect(text.code).toBe(4);
    const id = /package (\d+) exists; release it with CreateMcubeMiniTask, e\.g\. "mcube api CreateMcubeMiniTask --PackageId \1 /.exec(text.stderr)?.[1];
    expect(id, text.stderr).toBeDefined();
    // the hint repeats the release asked for (a gray release to that whitelist), never an official one
    expect(text.stderr).toContain(`"mcube api CreateMcubeMiniTask --PackageId ${id} --PublishType 2 --PublishMode 1 --WhitelistIds ${list} --GreyConfigInfo '`);
    expect(text.stderr).toMatch(/^error: InvalidGreyConfigInfo: task step failed: /m);
    const json = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '2.0.0.2', '--gray-whitelist', list, '--rule', 'os:within:9.0-1.0', '--json']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'InvalidGreyConfigInfo', step: 'task', resourceId: expect.stringMatching(/^\d+$/) });
    const refused = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '2.0.0.1', '--official', '--json']);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'H5VersionExists', step: 'package' });
  });

  it('a mini publish whose package answer was lost names the package that was created all the same, and a re-run is refused naming it', async () => {
    const MINI = '2024010100000044';
    mkdirSync(join(dir, 'mini'), { recursive: true });
    writeFileSync(join(dir, 'mini', 'index.html'), '<!DOCTYPE html><html><body>mini</body></html>');
    // a proxy that forwards UploadMcubeMiniPackage, lets the server build the package, and answers 502
    const gateway = await startGateway(srv.port, undefined, undefined, (req) => req.headers['x-acs-action'] === 'UploadMcubeMiniPackage');
    try {
      const lost = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '3.0.0.1', '--official', '--endpoint', gateway.url, '--json']);
      expect(lost.code, lost.stderr).toBe(3);
      const err = JSON.parse(lost.stdout).error;
      expect(err).toMatchObject({ code: 'Http502', step: 'package', resourceId: expect.stringMatching(/^\d+$/) });
      const rows = await srv.node.deps.db.knex('nebula_resources').where({ h5_id: MINI, h5_version: '3.0.0.1' }).select('id');
      expect(rows.map((r) => String(r.id))).toEqual([err.resourceId]);
      expect(lost.stderr).toContain(`package ${err.resourceId} exists; release it with CreateMcubeMiniTask, e.g. "mcube api CreateMcubeMiniTask --PackageId ${err.resourceId} --PublishType 3"`);
      // the pipeline's re-run: "this version exists", with the package to release
      const again = await mcube(['mini', 'publish', 'mini', '--h5-id', MINI, '--version', '3.0.0.1', '--official', '--json']);
      expect(again.code).toBe(4);
      expect(JSON.parse(again.stdout).error).toMatchObject({ code: 'H5VersionExists', step: 'package', resourceId: err.resourceId });
    } finally {
      await gateway.close();
    }
  });

  it('an upgrade package whose answer was lost is named in the error, and in the re-run\'s refusal', async () => {
    const gateway = await startGateway(srv.port, undefined, undefined, (req) => ['CreateMcubeUpgradePackage', 'CreateMcubeUpgradeTask'].includes(String(req.headers['x-acs-action'])));
    const args = ['upgrade', 'create', '--platform', 'Android', '--version', '9.1.0', '--download-url', 'https://downloads.example.com/app-9.1.0.apk', '--json'];
    try {
      const lost = await mcube([...args, '--endpoint', gateway.url]);
      expect(lost.code, lost.stderr).toBe(3);
      const err = JSON.parse(lost.stdout).error;
      expect(err).toMatchObject({ code: 'Http502', resourceId: expect.stringMatching(/^\d+$/) });
      expect(err.message).toContain(`(Android package ${err.resourceId} of version 9.1.0 exists: when no answer came, it may be the one this run created; see "mcube upgrade list")`);
      const rows = await srv.node.deps.db.knex('upgrade_packages').where({ app_version: '9.1.0' }).select('id');
      expect(rows.map((r) => String(r.id))).toEqual([err.resourceId]);
      const again = await mcube([...args.slice(0, 5), '9.1', ...args.slice(6)]);
      expect(again.code).toBe(4);
      expect(JSON.parse(again.stdout).error).toMatchObject({ code: 'UpgradePackageExists', resourceId: err.resourceId });

      // the release task: a lost answer says the task may stand; --once then finds it instead of adding a second
      const lostTask = await mcube(['upgrade', 'release', err.resourceId, '--end-time', '+1d', '--users', '1', '--endpoint', gateway.url]);
      expect(lostTask.code).toBe(3);
      expect(lostTask.stderr).toContain(`(when no answer came, the task may have been created: see "mcube upgrade tasks ${err.resourceId}", or run again with --once)`);
      const rerun = await mcube(['upgrade', 'release', err.resourceId, '--end-time', '+2d', '--users', '1', '--once', '--json']);
      expect(rerun.code, rerun.stderr).toBe(0);
      expect(JSON.parse(rerun.stdout)).toMatchObject({ packageId: err.resourceId, existing: true, task: { publishMode: 2, greyNum: 1 } });
      const tasks = await srv.node.deps.db.knex('upgrade_tasks').where({ package_id: Number(err.resourceId) }).select('id');
      expect(tasks.map((t) => String(t.id))).toEqual([JSON.parse(rerun.stdout).taskId]);
      // another kind is another task
      const official = await mcube(['upgrade', 'release', err.resourceId, '--official', '--once']);
      expect(official.code, official.stderr).toBe(0);
      expect(await srv.node.deps.db.knex('upgrade_tasks').where({ package_id: Number(err.resourceId) }).count({ n: '*' }).then((r) => Number(r[0]!.n))).toBe(2);
    } finally {
      await gateway.close();
    }
  });

  it('an upload that stalls is cut off after --timeout and sent again', async () => {
    // a store whose first upload never gets an answer: the server's upload address points at this proxy
    let posts = 0;
    const proxy = createServer((req, res) => {
      if (req.method === 'POST' && ++posts === 1) return void req.resume();
      const up = httpRequest({ host: '127.0.0.1', port: stalled.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const stalled = await startTestServer({ MCUBE_PUBLIC_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    try {
      writeFileSync(join(dir, 'stall.pem'), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
      const r = await mcube(['key', 'upload', 'stall.pem', '--timeout', '1', '--endpoint', stalled.url]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^retrying upload in \d+\.\d s after Timeout$/m);
      expect(posts).toBe(2);
      expect(Number((await stalled.node.deps.db.knex('rsa_keys').count({ n: '*' }))[0]!.n)).toBe(1);
    } finally {
      await stalled.close();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('a wrong secret exits 3 naming the POP code; a business error exits 4 naming its code', async () => {
    const sig = await mcube(['vhost', 'get'], { MPAAS_SK_ENV: 'wrong-secret-wrong-secret' });
    expect(sig.code).toBe(3);
    expect(sig.stdout).toBe('');
    expect(sig.stderr).toMatch(/^error: SignatureDoesNotMatch: .+/);
    expect(sig.stderr).toMatch(RID);
    const biz = await mcube(['whitelist', 'delete', '999999', '--json']);
    expect(biz.code).toBe(4);
    expect(biz.stderr).toMatch(/^error: WhitelistNotFound: /);
    expect(JSON.parse(biz.stdout)).toMatchObject({ error: { type: 'McubeBusinessError', code: 'WhitelistNotFound', action: 'DeleteMcubeWhitelist' } });
  });

  it('usage errors exit 2; an unreachable server exits 5', async () => {
    const unknown = await mcube(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const noRelease = await mcube(['nebula', 'publish', 'dist', '--h5-id', '12345678', '--version', '1.0.0.1']);
    expect(noRelease.code).toBe(2);
    expect(noRelease.stderr).toMatch(/choose the release kind/);
    // ids and versions the server would refuse: usage errors before anything is packed or uploaded
    const uploadsBefore = await srv.node.deps.db.knex('nebula_resources').count({ n: '*' }).then((r) => Number(r[0]!.n));
    for (const [args, text] of [
      [['nebula', 'publish', 'dist', '--h5-id', '1234', '--version', '1.0.0.1', '--official'], /--h5-id "1234" must be the 8-digit offline package id/],
      [['nebula', 'publish', 'missing.zip', '--h5-id', '1234', '--version', '1.0.0.1', '--official'], /8-digit/],
      [['nebula', 'publish', 'dist', '--h5-id', '12345678', '--version', '1.0-beta', '--official'], /--version "1\.0-beta" must be a dotted numeric version/],
      [['mini', 'publish', 'dist', '--h5-id', '2024010100000001', '--version', 'v2', '--official'], /--version "v2" must be a dotted numeric version/],
    ] as const) {
      const r = await mcube([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(text);
      expect(r.stderr).not.toMatch(/packing|uploading|upload token/);
    }
    expect(await srv.node.deps.db.knex('nebula_resources').count({ n: '*' }).then((r) => Number(r[0]!.n))).toBe(uploadsBefore);
    // with --json, stdout holds the error document and nothing else, also when no command was given
    for (const args of [['--json'], ['nebula', '--json']]) {
      const r = await mcube(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(JSON.parse(r.stdout).error).toMatchObject({ type: 'UsageError', code: 'UsageError' });
      expect(r.stderr).toMatch(/Usage|usage|mcube/);
    }
    const noEndpoint = await mcube(['vhost', 'get'], { MCUBE_ENDPOINT: undefined });
    expect(noEndpoint.code).toBe(2);
    expect(noEndpoint.stderr).toMatch(/MCUBE_ENDPOINT/);

    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    const down = await mcube(['vhost', 'get', '--endpoint', `http://127.0.0.1:${port}`, '--retries', '0']);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/^error: ECONNREFUSED: /);

    // a port that accepts and closes at once (a port forward with no backend): Node's fetch never settles there,
    // and the command used to exit 0 having printed nothing
    const hangUp = netServer((c) => c.end());
    await new Promise<void>((r) => hangUp.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(hangUp.address() as AddressInfo).port}`;
      const r = await mcube(['api', 'CreateMcubeVhost', '--Vhost', 'x.example.com', '--endpoint', url, '--timeout', '1', '--json']);
      expect(r.code).toBe(5);
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'Timeout', message: expect.stringContaining('no answer within 1000 ms') });
    } finally {
      await new Promise((r) => hangUp.close(r));
    }
  });

  it('packs, publishes and manages the release of an offline package', async () => {
    const pack = await mcube(['nebula', 'pack', 'dist', '--h5-id', '55555555', '--out', 'shop.zip', '--main-url', '/www/index.html', '--json']);
    expect(pack.code).toBe(0);
    expect(JSON.parse(pack.stdout)).toMatchObject({ h5Id: '55555555', files: 2 });

    const pub = await mcube(['nebula', 'publish', 'shop.zip', '--h5-id', '55555555', '--version', '1.0.0.1', '--name', 'shop', '--official', '--json']);
    expect(pub.code, pub.stderr).toBe(0);
    const published = JSON.parse(pub.stdout);
    expect(published).toMatchObject({ h5Id: '55555555', version: '1.0.0.1', resourceId: expect.stringMatching(/^\d+$/), taskId: expect.stringMatching(/^\d+$/), release: { type: 'official' } });

    const human = await mcube(['nebula', 'publish', 'dist', '--h5-id', '55555555', '--version', '1.0.0.2', '--gray-window', '+2d,500', '--rule', 'city:include:Hangzhou']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^published 55555555 1\.0\.0\.2 as gray release \(window\): package \d+, task \d+\n$/);
    expect(human.stderr).toMatch(/uploading\.\.\.\n/);

    const resources = await mcube(['nebula', 'resources', '--h5-id', '55555555']);
    expect(resources.stdout).toMatch(/^ID +VERSION +PLATFORM/);
    expect(resources.stdout).toMatch(/1\.0\.0\.2/);

    const { resourceId, taskId } = published;
    const tasks = await mcube(['nebula', 'tasks', '--resource-id', resourceId]);
    expect(tasks.stdout).toMatch(new RegExp(`^${taskId} +official +full +releasing`, 'm'));

    expect((await mcube(['task', 'pause', taskId, '--resource-id', resourceId])).stdout).toBe(`task ${taskId} paused\n`);
    const shown = await mcube(['task', 'show', taskId, '--json']);
    expect(JSON.parse(shown.stdout).getMcubeNebulaTaskDetailResult.nebulaTaskDetail).toMatchObject({ taskStatus: 3, publishType: 3 });
    expect((await mcube(['task', 'continue', taskId])).code).toBe(0);
    // run again (the first answer lost): the task is releasing as asked, so it is no failure
    const rerun = await mcube(['task', 'continue', taskId]);
    expect(rerun).toMatchObject({ code: 0, stdout: `task ${taskId} is releasing already; nothing done\n` });
    expect(JSON.parse((await mcube(['task', 'continue', taskId, '--json'])).stdout)).toEqual({ taskId, taskStatus: 1, unchanged: true });
    expect((await mcube(['task', 'end', taskId])).stdout).toBe(`task ${taskId} ended\n`);
    expect((await mcube(['task', 'end', taskId])).code).toBe(0);
    const again = await mcube(['task', 'continue', taskId]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^error: InvalidTaskStatusChange: /);

    const apps = await mcube(['nebula', 'apps', '--keyword', '5555']);
    expect(apps.stdout).toMatch(/^55555555 +shop$/m);
  });

  it('config: set creates then replaces, list, disable, export and import; devices pull the values', async () => {
    const pull = async () => {
      const r = await fetch(`${srv.url}/device/config/pull?platform=android&userId=u1`, { headers: { 'x-mcube-client-key': srv.creds.clientKey } });
      return ((await r.json()) as { data: Record<string, string> }).data;
    };
    expect(await mcube(['config', 'set', 'Load_Config_Interval', '--value', '600'])).toMatchObject({ code: 0, stdout: 'switch key Load_Config_Interval created\n' });
    writeFileSync(join(dir, 'banner.json'), JSON.stringify([{ Value: 'ios', Platform: 'IOS' }, { Value: 'half', Type: 'PERCENT', Percent: 50 }, { Value: 'rest' }]));
    expect((await mcube(['config', 'set', 'home.banner', '--values-file', 'banner.json', '--note', 'spring'])).stdout).toBe('switch key home.banner created\n');
    expect((await mcube(['config', 'set', 'Load_Config_Interval', '--value', '300'])).stdout).toBe('switch key Load_Config_Interval updated\n');
    expect((await pull()).Load_Config_Interval).toBe('300');
    const list = await mcube(['config', 'list']);
    expect(list.stdout).toMatch(/^home\.banner +yes +ios \[IOS\] \| half \(50%\) \| rest +spring /m);
    expect((await mcube(['config', 'disable', 'home.banner'])).stdout).toBe('switch key home.banner disabled\n');
    expect(await pull()).toEqual({ Load_Config_Interval: '300' });
    expect((await mcube(['config', 'export', '--out', 'switches.json'])).stdout).toBe('2 switch keys written to switches.json\n');
    expect((await mcube(['config', 'delete', 'home.banner'])).code).toBe(0);
    expect((await mcube(['config', 'import', 'switches.json'])).stdout).toBe('imported 1, skipped 1 existing: Load_Config_Interval\n');
    expect((await mcube(['config', 'list', '--keyword', 'banner', '--json'])).stdout).toContain('"enabled": false');
    // refusals: a usage error before any call, a business failure with its code
    const usage = await mcube(['config', 'set', 'bad key', '--value', 'x']);
    expect(usage.code).toBe(2);
    const biz = await mcube(['config', 'set', 'x.y', '--values', '[{"Value":"x","Type":"WHITELIST"}]']);
    expect(biz.code).toBe(4);
    expect(biz.stderr).toMatch(/^error: InvalidValues: /);
  });

  it('whitelists: create, add inline and from a file, list; a gray release to it', async () => {
    const created = await mcube(['whitelist', 'create', '--name', 'cli-beta', '--json']);
    const id = JSON.parse(created.stdout).createWhitelistResult.whitelistId as string;
    expect(id).toMatch(/^\d+$/);
    expect((await mcube(['whitelist', 'add', id, '--ids', 'u1,u2'])).stdout).toBe('added 2, refused 0\n');
    writeFileSync(join(dir, 'ids.txt'), 'u3\nu4\nu5\n');
    expect((await mcube(['whitelist', 'add', id, '--file', 'ids.txt'])).stdout).toBe('added 3, refused 0\n');
    const list = await mcube(['whitelist', 'list', '--name', 'cli-']);
    expect(list.stdout).toMatch(new RegExp(`^${id} +cli-beta +normal +5 `, 'm'));
    const pub = await mcube(['nebula', 'publish', 'dist', '--h5-id', '66666600', '--version', '1.0.0.1', '--gray-whitelist', id, '--rule', 'os:within:9.0-14.0', '--json']);
    expect(pub.code, pub.stderr).toBe(0);
    const detail = await mcube(['api', 'GetMcubeNebulaTaskDetail', '--TaskId', JSON.parse(pub.stdout).taskId]);
    expect(JSON.parse(detail.stdout).GetMcubeNebulaTaskDetailResult.NebulaTaskDetail).toMatchObject({ PublishMode: 1, WhitelistIds: id });
  });

  it('a publish that fails at its task step names the package it created; "nebula release" releases that package', async () => {
    const unknown = await mcube(['nebula', 'publish', 'dist', '--h5-id', '66666601', '--version', '1.0.0.1', '--gray-whitelist', '999999', '--json']);
    expect(unknown.code).toBe(4);
    expect(JSON.parse(unknown.stdout).error).toMatchObject({ step: 'pack', code: 'InvalidWhitelistIds' });
    const list = JSON.parse((await mcube(['whitelist', 'create', '--name', 'cli-retry', '--json'])).stdout).createWhitelistResult.whitelistId as string;
    const failed = await mcube(['nebula', 'publish', 'dist', '--h5-id', '66666601', '--version', '1.0.0.1', '--gray-whitelist', list, '--rule', 'os:within:9.0-1.0', '--json']);
    expect(failed.code, failed.stderr).toBe(4);
    const err = JSON.parse(failed.stdout).error;
    expect(err).toMatchObject({ step: 'task', code: 'InvalidGreyConfigInfo', resourceId: expect.stringMatching(/^\d+$/) });
    expect(err.message).toContain(`package ${err.resourceId} exists`);
    // the version exists now: publishing it again is refused, releasing the package works
    const again = await mcube(['nebula', 'publish', 'dist', '--h5-id', '66666601', '--version', '1.0.0.1', '--official']);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/^error: H5VersionExists: resource step failed/m);
    // the existing package is named, so a re-run pipeline can release it
    expect(again.stderr).toContain(`package ${err.resourceId} exists`);
    const released = await mcube(['nebula', 'release', err.resourceId, '--gray-whitelist', list, '--rule', 'city:include:Hangzhou']);
    expect(released.code, released.stderr).toBe(0);
    const taskId = /^package \d+: gray release \(whitelist\), task (\d+)\n$/.exec(released.stdout)?.[1];
    expect(taskId, released.stdout).toBeDefined();
    const detail = JSON.parse((await mcube(['api', 'GetMcubeNebulaTaskDetail', '--TaskId', taskId!])).stdout).GetMcubeNebulaTaskDetailResult.NebulaTaskDetail;
    expect(detail).toMatchObject({ PackageId: Number(err.resourceId), PublishType: 2, PublishMode: 1, WhitelistIds: list });
    // run again with --once: the unfinished task of that kind is named, no second task
    const rerun = await mcube(['nebula', 'release', err.resourceId, '--gray-whitelist', list, '--once', '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ resourceId: err.resourceId, taskId: taskId, existing: true, task: { id: Number(taskId), whitelistIds: list } });
    expect(rerun.stderr).toBe('');
    // a run asking for other settings of that kind is told that the task stands with its own
    const other = JSON.parse((await mcube(['whitelist', 'create', '--name', 'cli-retry-2', '--json'])).stdout).createWhitelistResult.whitelistId as string;
    const differs = await mcube(['nebula', 'release', err.resourceId, '--gray-whitelist', other, '--once']);
    expect(differs.code).toBe(0);
    expect(differs.stderr).toBe(`warning: task ${taskId} is released with other settings than this run asked for (whitelists ${list}); end it and release again to change them\n`);
    // the same whitelists written otherwise are the same; a percentage that is a prefix of the live one is not
    expect((await mcube(['nebula', 'release', err.resourceId, '--gray-whitelist', ` ${list},${list}`, '--once'])).stderr).toBe('');
    expect((await mcube(['nebula', 'release', err.resourceId, '--gray-percent', '10'])).code).toBe(0);
    expect((await mcube(['nebula', 'release', err.resourceId, '--gray-percent', '1', '--once'])).stderr).toMatch(/^warning: task \d+ is released with other settings than this run asked for \(percent 10\)/);
    const tasksOf = async () => JSON.parse((await mcube(['api', 'ListMcubeNebulaTasks', '--Id', err.resourceId])).stdout).ListMcubeNebulaTaskResult.NebulaTaskInfo as unknown[];
    expect(await tasksOf()).toHaveLength(2);
    // another release kind is another task
    const official = await mcube(['nebula', 'release', err.resourceId, '--official', '--once']);
    expect(official.code, official.stderr).toBe(0);
    expect(official.stdout).toMatch(/^package \d+: official release, task \d+\n$/);
    expect(await tasksOf()).toHaveLength(3);
    expect((await mcube(['nebula', 'release', 'abc', '--official'])).code).toBe(2);
    expect((await mcube(['nebula', 'release', err.resourceId])).code).toBe(2);
  });

  it('a package built unsigned is published with a warning; with --strict it is not released', async () => {
    const warned = await mcube(['nebula', 'publish', 'dist', '--h5-id', '12340002', '--version', '1.0.0.1', '--official', '--vhost', 'https://12340002.h5app.com', '--json']);
    expect(warned.code, warned.stderr).toBe(0);
    expect(JSON.parse(warned.stdout).warnings).toEqual([expect.stringMatching(/^Built unsigned: no RSA key/)]);
    expect(warned.stderr).toMatch(/^warning: Built unsigned/m);
    const strict = await mcube(['nebula', 'publish', 'dist', '--h5-id', '12340002', '--version', '1.0.0.2', '--official', '--strict', '--vhost', 'https://12340002.h5app.com', '--json']);
    expect(strict.code, strict.stderr).toBe(4);
    const err = JSON.parse(strict.stdout).error;
    expect(err).toMatchObject({ code: 'PackageWarning', step: 'resource', resourceId: expect.stringMatching(/^\d+$/) });
    const tasks = await mcube(['api', 'ListMcubeNebulaTasks', '--Id', err.resourceId]);
    expect(JSON.parse(tasks.stdout).ListMcubeNebulaTaskResult.NebulaTaskInfo ?? []).toEqual([]);
  });

  it('key status and key upload', async () => {
    const before = await mcube(['key', 'status', '--json']);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({ exists: false });
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    writeFileSync(join(dir, 'private_key.pem'), pem);
    const up = await mcube(['key', 'upload', 'private_key.pem']);
    expect(up).toMatchObject({ code: 0, stdout: 'key uploaded: new packages are signed with it\n' });
    expect((await mcube(['key', 'status'])).stdout).toBe('a signing key is configured\n');
  });
});
