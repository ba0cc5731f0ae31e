import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { fakeApp, md5 } from './upgrade-fixtures.js';

const BIN = join(import.meta.dirname, '..', '..', 'packages', 'sdk', 'bin', 'mcube.mjs');
let srv: TestServer;
let dir: string;

/** `node packages/sdk/bin/mcube.mjs ...` as a real process, configured through the environment as in a CI job. */
function mcube(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(MPAAS_|MCUBE_)/.test(k)) env[k] = v;
  Object.assign(env, {
    MCUBE_CLI_FROM_SOURCE: '1', MCUBE_ENDPOINT: srv.url, MPAAS_AK_ENV: srv.creds.accessKeyId, MPAAS_SK_ENV: srv.creds.accessKeySecret,
    MPAAS_APP_ID: srv.creds.appId, MPAAS_WORKSPACE_ID: srv.creds.workspaceId, MPAAS_TENANT_ID: srv.creds.tenantId,
  });
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let apk: Buffer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
  dir = mkdtempSync(join(tmpdir(), 'mcube-upgrade-cli-'));
  apk = await fakeApp('cli');
  writeFileSync(join(dir, 'app-release.apk'), apk);
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mcube upgrade (subprocess)', () => {
  it('create (uploads the .apk) -> list -> release -> tasks', async () => {
    const created = await mcube(['upgrade', 'create', 'app-release.apk', '--platform', 'Android', '--version', '2.1.0', '--desc', 'bug fixes']);
    expect(created.code, created.stderr).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^\d+$/);

    const listed = await mcube(['upgrade', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const pkg = JSON.parse(listed.stdout).listPackagesResult.packages[0];
    expect(pkg).toMatchObject({ id: Number(id), platform: 'Android', packageType: 'apk', productVersion: '2.1.0', changeLog: 'bug fixes', md5: md5(apk), clientFileSize: apk.length });
    const human = await mcube(['upgrade', 'list']);
    expect(human.stdout).toMatch(new RegExp(`^${id}\\s+Android\\s+apk\\s+2\\.1\\.0\\s+to be released\\s+${md5(apk)}`, 'm'));

    const released = await mcube(['upgrade', 'release', id, '--official', '--mode', 'forced', '--message', 'Please update']);
    expect(released.code, released.stderr).toBe(0);
    const taskId = released.stdout.trim();
    expect(taskId).toMatch(/^\d+$/);
    const tasks = await mcube(['upgrade', 'tasks', id, '--json']);
    expect(JSON.parse(tasks.stdout).listTaskResult.taskInfo).toEqual([expect.objectContaining({ id: Number(taskId), upgradeType: 206, publishType: 3, upgradeContent: 'Please update' })]);
    expect((await mcube(['upgrade', 'tasks', id])).stdout).toMatch(new RegExp(`^${taskId}\\s+official\\s+forced\\s+releasing`, 'm'));

    // a relative end time, as nebula release takes it
    const before = Date.now();
    const window = await mcube(['upgrade', 'release', id, '--end-time', '+2d', '--users', '50']);
    expect(window.code, window.stderr).toBe(0);
    const windowTasks = JSON.parse((await mcube(['upgrade', 'tasks', id, '--json'])).stdout).listTaskResult.taskInfo;
    const w = windowTasks.find((t: { id: number }) => t.id === Number(window.stdout.trim()));
    expect(w).toMatchObject({ publishType: 2, publishMode: 2, greyNum: 50 });
    // listed in the wire zone (UTC here), to the second
    const end = Date.parse(`${w.greyEndtime.replace(' ', 'T')}Z`);
    expect(end).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 2 * 86_400_000);
    expect(end).toBeLessThanOrEqual(Date.now() + 2 * 86_400_000);
  });

  it('refusals: a usage error exits 2 before any call, a business failure exits 4 with the server\'s code', async () => {
    const usage = await mcube(['upgrade', 'release', '42', '--mode', 'sometimes']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--mode must be single, multiple or forced/);
    const dup = await mcube(['upgrade', 'create', 'app-release.apk', '--platform', 'Android', '--version', '2.1']);
    expect(dup.code).toBe(4);
    expect(dup.stderr).toMatch(/UpgradePackageExists/);
    // the release kind is never a default: none, two, or half a time window is refused before any call
    for (const [args, why] of [
      [[], /choose the release kind/],
      [['--users', '100'], /needs both --end-time and --users/],
      [['--official', '--whitelist', '17'], /choose one release kind, not --official and --whitelist/],
      [['--official', '--rules', '[]'], /--rules applies to gray releases only/],
      [['--end-time', 'soon', '--users', '5'], /end time "soon" is not a date/],
    ] as const) {
      const r = await mcube(['upgrade', 'release', '42', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(why);
    }
    const missing = await mcube(['upgrade', 'release', '999999', '--official']);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/UpgradePackageNotFound/);
  });
});
