// The console's Pause, Continue and End of an upgrade task (guide §4.3), which the
// OpenAPI has no action for: `mcube admin upgrade-tasks …`, run as production runs
// it (the built admin command) against a running node's database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_MAIN, runCommand } from '../helpers/process.js';
import { androidPackage, createPackage, createUpgradeTask, fakeApp, startUpgradeServer, upload, type Upgrade } from './upgrade-fixtures.js';

let u: Upgrade;
beforeAll(async () => {
  u = await startUpgradeServer({ MCUBE_DEVICE_RATE_PER_MIN: '100000' });
}, 60_000);
afterAll(async () => {
  await u?.srv.close();
});

const admin = (...args: string[]) => runCommand(process.execPath, [ADMIN_MAIN, ...args], u.srv.env.env);
const scope = () => [u.srv.creds.appId, u.srv.creds.workspaceId];
/** the task a whitelisted tester is offered, once the node has picked the change up */
async function offered(want: number | null): Promise<number | null> {
  let got: number | null = null;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${u.srv.url}/device/upgrade/check`, {
      method: 'POST',
      headers: { 'x-mcube-client-key': u.srv.creds.clientKey, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ platform: 'android', client: '3.0', userId: 'tester-1' }).toString(),
    });
    const body: any = await res.json();
    expect(res.status).toBe(200);
    got = body.taskId ?? null;
    if (got === want) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  return got;
}

describe('upgrade-tasks pause, continue and end', () => {
  it('a paused or ended task gives way to the one before it; continue brings it back; finished is final', async () => {
    const list = Number((await u.a('CreateMcubeWhitelist', { WhiteListName: 'beta', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    expect((await u.a('UpdateMcubeWhitelist', { Id: String(list), KeyIds: 'tester-1' })).ResultCode).toBe('OK');
    const pkg = await androidPackage(u.a, '5.0.0');
    const a = await createUpgradeTask(u.a, pkg, { PublishType: 2, PublishMode: 1, WhitelistIds: String(list), UpgradeType: 202 });
    const b = await createUpgradeTask(u.a, pkg, { PublishType: 2, PublishMode: 1, WhitelistIds: String(list), UpgradeType: 206 });
    expect(await offered(b)).toBe(b);

    const paused = await admin('upgrade-tasks', 'pause', ...scope(), String(b), '--json');
    expect(paused.code, paused.stderr).toBe(0);
    expect(JSON.parse(paused.stdout)).toMatchObject({ taskId: b, status: 'paused' });
    expect(await offered(a)).toBe(a);
    expect((await u.a('GetMcubeUpgradeTaskInfo', { TaskId: b })).GetTaskResult.TaskInfo.TaskStatus).toBe(3);

    expect((await admin('upgrade-tasks', 'continue', ...scope(), String(b))).code).toBe(0);
    expect(await offered(b)).toBe(b);

    expect((await admin('upgrade-tasks', 'end', ...scope(), String(b))).code).toBe(0);
    expect(await offered(a)).toBe(a);
    const listed = JSON.parse((await admin('upgrade-tasks', 'list', ...scope(), '--json')).stdout) as Array<{ id: number; status: string }>;
    expect(listed.filter((t) => t.id === a || t.id === b)).toEqual([
      expect.objectContaining({ id: b, status: 'finished' }),
      expect.objectContaining({ id: a, status: 'releasing' }),
    ]);
    // IsRelease says whether a task releases the package now: with its last task paused it does not
    const isRelease = async () => (await u.a('GetMcubeUpgradePackageInfo', { PackageId: pkg })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO.IsRelease;
    expect(await isRelease()).toBe(1);
    expect((await admin('upgrade-tasks', 'pause', ...scope(), String(a))).code).toBe(0);
    expect(await isRelease()).toBe(0);
    const listedPkg = (await u.a('ListMcubeUpgradePackages', { PageSize: 200 })).ListPackagesResult.Packages.find((p: any) => p.Id === pkg);
    expect(listedPkg).toMatchObject({ IsRelease: 0, AllowCreateTask: true });
    expect((await admin('upgrade-tasks', 'continue', ...scope(), String(a))).code).toBe(0);
    expect(await isRelease()).toBe(1);

    // finished is final, continue needs a paused task, another workspace's task is not found: refused, nothing changed
    // (a refusal of the state is exit 3 in one line; the usage text was printed after it, as if the command were wrong)
    const again = await admin('upgrade-tasks', 'continue', ...scope(), String(b));
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/^error: .*is finished; continue applies to a paused task.*\n$/);
    const notPaused = await admin('upgrade-tasks', 'continue', ...scope(), String(a));
    expect(notPaused.code).toBe(3);
    expect(notPaused.stderr).toMatch(/is releasing/);
    const elsewhere = await admin('upgrade-tasks', 'end', u.B.appId, u.B.workspaceId, String(a));
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toMatch(/no upgrade task/);
    expect(await offered(a)).toBe(a);

    // each change left an audit row
    const rows = await u.srv.node.deps.db.knex('audit_log').where('action', 'like', 'admin upgrade-tasks %').orderBy('id').pluck('action');
    expect(rows).toEqual(['admin upgrade-tasks pause', 'admin upgrade-tasks continue', 'admin upgrade-tasks end', 'admin upgrade-tasks pause', 'admin upgrade-tasks continue']);
  });
});

describe('upgrade-packages new-code', () => {
  it('gives a package a new download verification code; the old one stops opening the gate at once', async () => {
    const pkg = await createPackage(u.a, { Platform: 'Android', AppVersion: '77.0.0', NeedCheck: 1, FileUrl: await upload(u.a, 'coded.apk', await fakeApp('coded')) });
    const info = async () => (await u.a('GetMcubeUpgradePackageInfo', { PackageId: pkg })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    const before = await info();
    const submit = (code: string) =>
      fetch(before.QrcodeUrl, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ code }) });
    expect((await submit(before.VerificationCode)).status).toBe(302);
    const r = await admin('upgrade-packages', 'new-code', ...scope(), String(pkg), '--json');
    expect(r.code, r.stderr).toBe(0);
    const code = JSON.parse(r.stdout).verificationCode as string;
    expect(code).toMatch(/^\d{6}$/);
    expect((await info()).VerificationCode).toBe(code);
    expect(code).not.toBe(before.VerificationCode);
    expect((await submit(before.VerificationCode)).status).toBe(403);
    expect((await submit(code)).status).toBe(302);
    // another workspace's package is not found; a package without verification has no code to change
    expect((await admin('upgrade-packages', 'new-code', u.B.appId, u.B.workspaceId, String(pkg))).code).toBe(2);
    const plain = await androidPackage(u.a, '78.0.0');
    const refused = await admin('upgrade-packages', 'new-code', ...scope(), String(plain));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: upgrade package \d+ has no download verification/);
    const audit = await u.srv.node.deps.db.knex('audit_log').where({ action: 'admin upgrade-packages new-code' }).pluck('params');
    expect(audit.map((p: string) => JSON.parse(p))).toEqual([{ appId: u.srv.creds.appId, workspaceId: u.srv.creds.workspaceId, packageId: pkg }]);
  });
});
