import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, type Call } from '../helpers/nebula.js';
import { runCommand } from '../helpers/process.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** A README's example under `heading`, as a user copies it; only the package import points at the sources. */
function readmeExample(file: string, heading = '## Publishing from a script'): string {
  const readme = readFileSync(join(ROOT, file), 'utf8');
  const at = readme.indexOf(heading);
  if (at < 0) throw new Error(`${file}: no "${heading}"`);
  const m = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!m) throw new Error(`${file}: no ts block under "${heading}"`);
  return m[1]!.replace("from '@mcube/sdk'", `from ${JSON.stringify(pathToFileURL(join(ROOT, 'packages/sdk/src/index.ts')).href)}`);
}

/** Runs a README example saved in `cwd` as `script`, as a user would (tsx), with the SDK's environment and `env`. */
async function runExample(cwd: string, script: string, env: Record<string, string>) {
  const all = {
    MCUBE_ENDPOINT: srv.url, MPAAS_AK_ENV: srv.creds.accessKeyId, MPAAS_SK_ENV: srv.creds.accessKeySecret,
    MPAAS_APP_ID: srv.creds.appId, MPAAS_WORKSPACE_ID: srv.creds.workspaceId, MPAAS_TENANT_ID: srv.creds.tenantId, ...env,
  };
  const tsx = pathToFileURL(createRequire(join(ROOT, 'package.json')).resolve('tsx')).href;
  return runCommand(process.execPath, ['--import', tsx, script], all, cwd);
}

let srv: TestServer;
let call: Call;
let dir: string;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
  call = mcube(srv);
  dir = mkdtempSync(join(tmpdir(), 'mcube-readme-'));
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(['README.md', 'packages/sdk/README.md'])('%s', (file) => {
  it('its publishing example runs unchanged: it publishes a built folder, releases it and pauses the release', async () => {
    expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
    // each README publishes its own version
    const version = file === 'README.md' ? '1.0.0.1' : '1.0.0.2';
    mkdirSync(join(dir, 'dist', 'www'), { recursive: true });
    writeFileSync(join(dir, 'dist', 'www', 'index.html'), '<!doctype html><title>shop</title>');
    writeFileSync(join(dir, 'publish.mts'), readmeExample(file));
    const run = await runExample(dir, 'publish.mts', { PACKAGE_VERSION: version });
    expect(run.code, run.stderr).toBe(0);
    const m = /^package (\d+), task (\d+)$/m.exec(run.stdout);
    expect(m, run.stdout).not.toBeNull();
    const detail = await call('GetMcubeNebulaTaskDetail', { TaskId: Number(m![2]) });
    // a time-window gray release with the city rule, paused by the example's last call
    expect(detail.GetMcubeNebulaTaskDetailResult.NebulaTaskDetail).toMatchObject({ Id: Number(m![2]), PublishType: 2, PublishMode: 2, GreyNum: 1000, TaskStatus: 3 });
  });
});

it("README.md's mini program example runs unchanged: it packs, uploads and releases a mini program to a whitelist", async () => {
  const wl = (await call('CreateMcubeWhitelist', { WhiteListName: 'readme testers', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
  const mini = join(dir, 'mini');
  mkdirSync(join(mini, 'dist'), { recursive: true });
  writeFileSync(join(mini, 'dist', 'index.html'), '<!doctype html><title>mini</title>');
  writeFileSync(join(mini, 'publish-mini.mts'), readmeExample('README.md', '### A mini program'));
  const run = await runExample(mini, 'publish-mini.mts', { PACKAGE_VERSION: '1.0.0.7', WHITELIST_ID: wl });
  expect(run.code, run.stderr).toBe(0);
  const m = /^mini package (\d+), task (\d+)$/m.exec(run.stdout);
  expect(m, run.stdout).not.toBeNull();
  const task = (await call('QueryMcubeMiniTask', { TaskId: Number(m![2]) })).QueryMiniTaskResult.MiniTaskInfo;
  expect(task).toMatchObject({ PackageId: Number(m![1]), PublishType: 2, PublishMode: 1, WhitelistIds: String(wl), TaskStatus: 1, ProductVersion: '1.0.0.7' });
});

it("README.md's switch key example runs unchanged: it creates the key, then replaces its values; devices pull them", async () => {
  const wl = (await call('CreateMcubeWhitelist', { WhiteListName: 'readme switch testers', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
  await call('UpdateMcubeWhitelist', { Id: wl, KeyIds: 'tester-1' });
  const sw = join(dir, 'switch');
  mkdirSync(sw, { recursive: true });
  writeFileSync(join(sw, 'switch.mts'), readmeExample('README.md', '### Switch keys'));
  const first = await runExample(sw, 'switch.mts', { WHITELIST_ID: wl });
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toBe('pay.newCheckout created\n');
  const again = await runExample(sw, 'switch.mts', { WHITELIST_ID: wl });
  expect(again.stdout).toBe('pay.newCheckout updated\n');
  const pull = async (fields: Record<string, string>) => {
    const r = await fetch(`${srv.url}/device/config/pull?${new URLSearchParams(fields)}`, { headers: { 'x-mcube-client-key': srv.creds.clientKey } });
    return ((await r.json()) as { data: Record<string, string> }).data['pay.newCheckout'];
  };
  expect(await pull({ platform: 'ios', userId: 'tester-1' })).toBe('on');
  expect(await pull({ platform: 'ios', userId: 'someone' })).toBe('off');
});
