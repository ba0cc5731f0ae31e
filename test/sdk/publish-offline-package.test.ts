import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  McubeBusinessError,
  McubeClient,
  McubeError,
  packOfflinePackageToBuffer,
  packOfflinePackageToFile,
  publishOfflinePackage,
  type PublishProgress,
} from '../../packages/sdk/src/index.js';
import { startGateway } from '../helpers/gateway.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let client: McubeClient;
let dir: string;
let site: string;

beforeAll(async () => {
  srv = await startTestServer();
  client = new McubeClient({ endpoint: srv.url, ...srv.creds, env: {}, throwOnBusinessError: true });
  await client.createMcubeVhost({ vhost: 'h5app.com' });
  dir = mkdtempSync(join(tmpdir(), 'mcube-sdk-publish-'));
  site = join(dir, 'dist');
  mkdirSync(join(site, 'www', 'js'), { recursive: true });
  writeFileSync(join(site, 'www', 'index.html'), '<!DOCTYPE html><html><body>hello</body></html>');
  writeFileSync(join(site, 'www', 'js', 'app.js'), 'console.log("hi");\n'.repeat(200));
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = { h5Id: '20240101', h5Name: 'shop', platform: 'all', clientVersionMin: '1.0.0;1.0.0', mainUrl: '/www/index.html' } as const;

describe('publishOfflinePackage', () => {
  it('packs a folder, uploads it, creates the package and an official task in one call', async () => {
    const events: PublishProgress[] = [];
    const r = await publishOfflinePackage({ client, ...base, version: '1.0.0.1', zip: site, release: { type: 'official' }, onProgress: (p) => events.push(p) });
    expect(r).toMatchObject({ h5Id: '20240101', version: '1.0.0.1', resourceId: expect.stringMatching(/^\d+$/), taskId: expect.stringMatching(/^\d+$/) });
    expect([...new Set(events.map((e) => e.step))]).toEqual(['pack', 'token', 'upload', 'resource', 'task']);
    const up = events.filter((e) => e.sent !== undefined);
    expect(up.at(-1)!.sent).toBe(up.at(-1)!.total);

    const apps = await client.listMcubeNebulaApps({ keyword: '20240101' });
    expect(apps.listMcubeNebulaAppsResult.nebulaAppInfos).toEqual([{ h5Id: '20240101', h5Name: 'shop' }]);
    const res = await client.listMcubeNebulaResources({ h5Id: '20240101' });
    expect(res.listMcubeNebulaResourceResult.nebulaResourceInfo).toEqual([
      expect.objectContaining({ id: Number(r.resourceId), h5Version: '1.0.0.1', platform: 'all', mainUrl: '/www/index.html', resourceType: '1' }),
    ]);
    const tasks = await client.listMcubeNebulaTasks({ id: Number(r.resourceId) });
    expect(tasks.listMcubeNebulaTaskResult.nebulaTaskInfo).toEqual([expect.objectContaining({ id: Number(r.taskId), publishType: 3, taskStatus: 1 })]);
  });

  it('publishes a whitelist gray release with advanced rules from zip bytes', async () => {
    const wl = await client.createMcubeWhitelist({ whiteListName: 'beta', whitelistType: 'normal' });
    const whitelistId = wl.createWhitelistResult.whitelistId!;
    const zip = await packOfflinePackageToBuffer(site, { h5Id: '20240101' });
    const r = await publishOfflinePackage({
      client,
      ...base,
      version: '1.0.0.2',
      zip,
      release: { type: 'whitelist', whitelistIds: [whitelistId] },
      rules: [
        { ruleElement: 'city', operation: 'include', value: ['Shanghai', 'Beijing'] },
        { ruleElement: 'osVersion', operation: 'within', value: '9.0-12.1' },
      ],
      memo: 'beta testers',
    });
    const d = (await client.getMcubeNebulaTaskDetail({ taskId: Number(r.taskId) })).getMcubeNebulaTaskDetailResult.nebulaTaskDetail!;
    expect(d).toMatchObject({ publishType: 2, publishMode: 1, whitelistIds: whitelistId, memo: 'beta testers', productVersion: '1.0.0.2' });
    expect(d.ruleJsonList).toEqual([
      { ruleElement: 'city', operation: '1', ruleType: 'contains', value: 'Shanghai,Beijing' },
      { ruleElement: 'osVersion', operation: '3', ruleType: 'vLimitIn', value: '9.0-12.1' },
    ]);
  });

  it('publishes a time-window gray release from a zip file', async () => {
    const zipPath = join(dir, 'pkg.zip');
    await packOfflinePackageToFile(site, zipPath, { h5Id: '20240101' });
    const end = new Date(Date.now() + 24 * 3600 * 1000);
    const r = await publishOfflinePackage({ client, ...base, version: '1.0.0.3', zip: zipPath, release: { type: 'window', endTime: end, users: 100 } });
    const d = (await client.getMcubeNebulaTaskDetail({ taskId: Number(r.taskId) })).getMcubeNebulaTaskDetailResult.nebulaTaskDetail!;
    expect(d).toMatchObject({ publishType: 2, publishMode: 2, greyNum: 100, greyEndtimeData: end.toISOString().replace('T', ' ').slice(0, 19) });
  });

  it('names the failing step: a version that exists fails at "resource" with the server code', async () => {
    const err = await publishOfflinePackage({ client, ...base, version: '1.0.0.1', zip: site, release: { type: 'official' } }).catch((e) => e);
    expect(err).toBeInstanceOf(McubeBusinessError);
    expect(err).toMatchObject({ step: 'resource', code: 'H5VersionExists', action: 'CreateMcubeNebulaResource' });
    expect(err.message).toMatch(/^resource step failed: /);
    expect(err.requestId).toMatch(/^[0-9A-F-]{36}$/);
  });

  it('a 502 from a proxy after the package was committed still names the package that stands, and only that one exists', async () => {
    // a gateway that forwards CreateMcubeNebulaResource, then loses the answer and says 502
    const gateway = await startGateway(srv.port, undefined, undefined, (req) => req.headers['x-acs-action'] === 'CreateMcubeNebulaResource');
    try {
      // the signed host is the server's, as a transparent proxy keeps it
      const viaGateway = new McubeClient({ endpoint: gateway.url, ...srv.creds, env: {}, throwOnBusinessError: true, retry: false });
      const err = await publishOfflinePackage({ client: viaGateway, ...base, version: '1.0.0.7', zip: site, release: { type: 'official' } }).catch((e) => e);
      expect(err).toBeInstanceOf(McubeError);
      expect(err).toMatchObject({ step: 'resource', code: 'Http502', resourceId: expect.stringMatching(/^\d+$/) });
      const stored = await client.listMcubeNebulaResources({ h5Id: base.h5Id });
      expect(stored.listMcubeNebulaResourceResult.nebulaResourceInfo!.filter((r) => r.h5Version === '1.0.0.7').map((r) => String(r.id))).toEqual([err.resourceId]);
    } finally {
      await gateway.close();
    }
  });

  it('an id or version the server would refuse fails at "pack", before anything is uploaded', async () => {
    for (const [over, code] of [[{ h5Id: '1234' }, 'InvalidH5Id'], [{ version: '1.0-beta' }, 'InvalidH5Version'], [{ version: '1.2.3.4.5.6.7.8.9' }, 'InvalidH5Version']] as const) {
      const steps: string[] = [];
      const err = await publishOfflinePackage({ client, ...base, version: '9.0.0.1', ...over, zip: site, release: { type: 'official' }, onProgress: (p) => steps.push(p.step) }).catch((e) => e);
      expect(err).toBeInstanceOf(McubeBusinessError);
      expect(err).toMatchObject({ step: 'pack', code });
      expect(err.message).toMatch(/nothing was uploaded$/);
      expect(steps).toEqual([]);
    }
  });

  it('an unknown whitelist fails at "pack", before the upload; a rule the server refuses at "task"; a folder without the main page at "pack"', async () => {
    const steps: string[] = [];
    const err = await publishOfflinePackage({ client, ...base, version: '1.0.0.9', zip: site, release: { type: 'whitelist', whitelistIds: ['99999'] }, onProgress: (p) => steps.push(p.step) }).catch((e) => e);
    expect(err).toBeInstanceOf(McubeBusinessError);
    expect(err).toMatchObject({ step: 'pack', code: 'InvalidWhitelistIds', resourceId: undefined });
    expect(steps).toEqual([]);
    const list = (await client.createMcubeWhitelist({ whiteListName: 'sdk-known', whitelistType: 'normal' })).createWhitelistResult.whitelistId!;
    const late = await publishOfflinePackage({ client, ...base, version: '1.0.0.9', zip: site, release: { type: 'whitelist', whitelistIds: [String(list)] }, rules: [{ ruleElement: 'osVersion', operation: 'within', value: '9.0-1.0' }] }).catch((e) => e);
    expect(late).toMatchObject({ step: 'task', code: 'InvalidGreyConfigInfo', resourceId: expect.stringMatching(/^\d+$/) });
    const err2 = await publishOfflinePackage({ client, ...base, mainUrl: '/www/missing.html', version: '2.0.0.0', zip: site, release: { type: 'official' } }).catch((e) => e);
    expect(err2).toBeInstanceOf(McubeError);
    expect(err2).toMatchObject({ step: 'pack', code: 'InvalidPackage' });
    expect(err2.message).toMatch(/missing\.html/);
  });

  it('a main URL the server would refuse fails before anything is uploaded, with the server\'s code', async () => {
    const steps: string[] = [];
    const err = await publishOfflinePackage({ client, ...base, mainUrl: 'www/index.html', version: '2.0.0.1', zip: site, release: { type: 'official' }, onProgress: (p) => steps.push(p.step) }).catch((e) => e);
    expect(err).toBeInstanceOf(McubeBusinessError);
    expect(err).toMatchObject({ step: 'pack', code: 'InvalidMainUrl' });
    expect(err.message).toMatch(/nothing was uploaded/);
    expect(steps).toEqual([]);
  });
});
