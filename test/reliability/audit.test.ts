import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistry } from '../../packages/server/src/actions.js';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { makeH5Zip, mcube, rsaKeyPair, uploadFile } from '../helpers/nebula.js';
import { runCommand } from '../helpers/process.js';
import { startTestServer, TEST_CREDS, type TestServer } from '../helpers/server.js';
import { SuiteFigures } from './lib/figures.js';
import { sendRequest, signAcs3, signV1 } from '../helpers/signing.js';

/**
 * Every management action (mutates: true in the registry) leaves one audit
 * row per authenticated call, written before the answer leaves: key,
 * tenant, action, parameters without secrets, result, request id and time.
 * The rows are read back with `npm run admin -- audit list --json`.
 * A mutating action without a recipe below fails the suite, so a new
 * action cannot slip in unaudited.
 */
const fig = new SuiteFigures('audit', {
  inputsTried: 'calls of every action: successful and refused management calls (both signature styles), reads, unauthenticated calls',
  crashes: '5xx answers and error-level log lines',
  hangs: 'calls without an answer within 60 s',
  forgedOrForeignAccepted: 'unauthenticated calls that left an audit row (an unauthenticated writer could fill the log)',
  overAdmissions: 'n/a: no time-window task is involved',
  orphansLeft: 'n/a: covered by crash-consistency',
  bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
});
for (const c of ['missingAuditRows', 'wrongAuditRows', 'secretsInAudit', 'auditRowsForReads', 'missingInCli']) fig.check(c);

const registry = buildRegistry();
const mutating = registry.all().filter((d) => d.mutates);
const reads = registry.all().filter((d) => !d.mutates);
const H5 = '66667777';
const MINI = '2024000066667777';
let srv: TestServer;
const ctx: Record<string, string> = {};
const SIGNING = new Set(['Action', 'Version', 'Format', 'Timestamp', 'SignatureNonce', 'SignatureMethod', 'SignatureVersion', 'AccessKeyId', 'Signature', 'SecurityToken']);

/** A successful call of each management action, in an order that builds what the next ones need. */
const RECIPES: Array<[string, () => Promise<Record<string, unknown>>, (json: any) => void]> = [
  ['CreateMcubeVhost', async () => ({ Vhost: 'audit.example.com' }), () => {}],
  ['CreateMcubeNebulaApp', async () => ({ H5Id: H5, H5Name: 'audit' }), () => {}],
  ['UploadMcubeRsaKey', async () => ({ FileUrl: await uploadFile(mcube(srv), 'k.pem', Buffer.from(rsaKeyPair(1024).privatePem)), OnexFlag: true }), () => {}],
  [
    'CreateMcubeNebulaResource',
    async () => ({
      H5Id: H5, H5Name: 'audit', H5Version: '1.0.0', ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
      FileUrl: await uploadFile(mcube(srv), `${H5}.zip`, await makeH5Zip(H5)), MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
    }),
    (j) => (ctx.pkg = j.CreateMcubeNebulaResourceReslult.NebulaResourceId),
  ],
  ['CreateMcubeWhitelist', async () => ({ WhiteListName: 'audit-list', WhitelistType: 'normal' }), (j) => (ctx.wl = j.CreateWhitelistResult.WhitelistId)],
  ['UpdateMcubeWhitelist', async () => ({ Id: ctx.wl, KeyIds: 'user-1,user-2' }), () => {}],
  ['CreateMcubeWhitelistForIde', async () => ({ UserId: 'dev', WhitelistValue: 'user-3' }), (j) => (ctx.ide = j.CreateWhitelistForIdeResult.WhitelistId)],
  ['DeleteMdsWhitelistContent', async () => ({ WhitelistId: ctx.wl, WhitelistValue: 'user-1' }), () => {}],
  ['DeleteCubecardWhitelistContent', async () => ({ WhitelistId: ctx.wl, WhitelistValue: 'user-2' }), () => {}],
  ['CreateMcubeNebulaTask', async () => ({ Id: 0, PackageId: ctx.pkg, BizType: 'nebula', PublishType: 3, Memo: 'audited' }), (j) => (ctx.task = j.CreateMcubeNebulaTaskResult.NebulaTaskId)],
  ['ChangeMcubeNebulaTaskStatus', async () => ({ BizType: 'nebula', TaskId: ctx.task, PackageId: ctx.pkg, TaskStatus: 3 }), () => {}],
  [
    'CreateMcubeUpgradePackage',
    async () => ({ Platform: 'Android', AppVersion: '1.0.0', FileUrl: await uploadFile(mcube(srv), 'audit.apk', await makeH5Zip(H5)), Desc: 'audited', OnexFlag: true }),
    (j) => (ctx.upgrade = j.ResultContent.Data),
  ],
  ['CreateMcubeUpgradeTask', async () => ({ PackageInfoId: ctx.upgrade, PublishType: 3, UpgradeType: 202, Memo: 'audited' }), () => {}],
  ['DeleteMcubeUpgradeResource', async () => ({ Id: ctx.upgrade, Platform: 'Android' }), () => {}],
  ['DeleteMcubeWhitelist', async () => ({ Id: ctx.ide }), () => {}],
  ['DeleteMcubeNebulaApp', async () => ({ H5Id: H5 }), () => {}],
  ['CreateMcubeMiniApp', async () => ({ H5Id: MINI, H5Name: 'audit mini' }), () => {}],
  [
    'UploadMcubeMiniPackage',
    async () => ({
      H5Id: MINI, H5Name: 'audit mini', H5Version: '1.0.0', PackageType: 1, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
      ResourceFileUrl: await uploadFile(mcube(srv), `${MINI}.zip`, await makeH5Zip(MINI)), MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1,
      EnableKeepAlive: 'YES', EnableOptionMenu: 'YES', EnableTabBar: 1, UserId: 'auditor', OnexFlag: true,
    }),
    (j) => (ctx.mini = j.UploadMiniPackageResult.ReturnPackageResult.PackageId),
  ],
  ['CreateMcubeMiniTask', async () => ({ PackageId: ctx.mini, PublishType: 3, Memo: 'audited' }), (j) => (ctx.miniTask = j.CreateMiniTaskResult.MiniTaskId)],
  ['CreateMdsMiniprogramTask', async () => ({ Id: 0, PackageId: ctx.mini, PublishType: 2, PublishMode: '2', GreyNum: '3', GreyEndtimeData: new Date(Date.now() + 3600_000).toISOString().replace('T', ' ').slice(0, 19) }), () => {}],
  ['ChangeMcubeMiniTaskStatus', async () => ({ BizType: 'mini', TaskId: ctx.miniTask, PackageId: ctx.mini, TaskStatus: 3 }), () => {}],
  ['DeleteMcubeMiniApp', async () => ({ H5Id: MINI }), () => {}],
  ['CreateMcubeSwitchConfig', async () => ({ ConfigKey: 'audit.key', Values: '[{"Value":"on"}]' }), () => {}],
  ['UpdateMcubeSwitchConfig', async () => ({ ConfigKey: 'audit.key', Note: 'audited' }), () => {}],
  ['ChangeMcubeSwitchConfigStatus', async () => ({ ConfigKey: 'audit.key', Enabled: false }), () => {}],
  ['ImportMcubeSwitchConfigs', async () => ({ Content: '[{"ConfigKey":"audit.imported","Values":[{"Value":"x"}]}]' }), () => {}],
  ['DeleteMcubeSwitchConfig', async () => ({ ConfigKey: 'audit.key' }), () => {}],
];

interface Sent {
  action: string;
  style: 'acs3' | 'v1';
  params: Record<string, string>;
  status: number;
  code: string;
  requestId: string;
  t0: number;
  t1: number;
  accessKeyId: string;
}
const sentCalls: Sent[] = [];

async function call(action: string, extra: Record<string, unknown>, style: 'acs3' | 'v1', who: { accessKeyId: string; accessKeySecret: string } = TEST_CREDS): Promise<Sent & { json: any }> {
  const params: Record<string, string> = { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId };
  for (const [k, v] of Object.entries(extra)) params[k] = String(v);
  const signer = { host: srv.host, accessKeyId: who.accessKeyId, secret: who.accessKeySecret };
  const req = style === 'acs3' ? signAcs3(signer, action, params) : signV1(signer, action, params, JSON.stringify(params).length > 3000 ? 'POST' : 'GET');
  const t0 = Date.now();
  fig.add('inputsTried');
  const r = await sendRequest(srv.host, req, 60_000);
  if (r.timedOut) fig.add('hangs');
  if (r.status >= 500) fig.add('crashes');
  const s: Sent = { action, style, params, status: r.status, code: r.json?.Code ?? r.json?.ResultCode ?? '', requestId: r.json?.RequestId ?? '', t0, t1: Date.now(), accessKeyId: who.accessKeyId };
  return { ...s, json: r.json };
}

/** Checks the audit row of one answered management call, read right after the answer. */
async function expectAudited(s: Sent): Promise<string[]> {
  const row = await srv.node.deps.db.knex('audit_log').where({ request_id: s.requestId }).first();
  if (!row) {
    fig.check('missingAuditRows', 1);
    return [`${s.action} (${s.style}, ${s.code}): no audit row`];
  }
  const problems: string[] = [];
  const recorded = JSON.parse(row.params) as Record<string, unknown>;
  const want = { tenant_id: TEST_CREDS.tenantId, access_key_id: s.accessKeyId, action: s.action, http_status: s.status, result_code: s.code };
  const got = { tenant_id: row.tenant_id, access_key_id: row.access_key_id, action: row.action, http_status: Number(row.http_status), result_code: row.result_code };
  if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${s.action}: row ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
  const at = Number(row.created_at);
  if (!(at >= s.t0 - 5 && at <= s.t1 + 5)) problems.push(`${s.action}: time ${at} outside the call [${s.t0}, ${s.t1}]`);
  for (const [k, v] of Object.entries(s.params)) if (String(recorded[k]) !== v) problems.push(`${s.action}: parameter ${k} recorded as ${JSON.stringify(recorded[k])}, sent ${JSON.stringify(v)}`);
  const def = registry.get(s.action)!;
  for (const k of Object.keys(recorded)) {
    if (SIGNING.has(k) || /secret|signature|authorization|password/i.test(k)) problems.push(`${s.action}: signing or secret parameter ${k} recorded`);
    if ((def.secretParams ?? []).includes(k) && recorded[k] !== '[redacted]') problems.push(`${s.action}: secret parameter ${k} not redacted`);
  }
  const wrong = problems.filter((p) => !/signing or secret|not redacted/.test(p)).length;
  fig.check('wrongAuditRows', wrong);
  fig.check('secretsInAudit', problems.length - wrong);
  return problems;
}

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
  const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
  await tenants.ensureTenant('TENANT02');
  await tenants.ensureApp('TENANT02', 'ALIPUB0000002');
  await tenants.ensureWorkspace('ALIPUB0000002', 'default');
}, 60_000);

afterAll(async () => {
  fig.write();
  await srv?.close();
});

describe('the audit log of management actions', () => {
  it('every mutating action of the registry has a recipe here', () => {
    const missing = mutating.map((d) => d.name).filter((n) => !RECIPES.some(([a]) => a === n));
    expect(missing).toEqual([]);
  });

  it('a successful call of every management action leaves its row before the answer (signature 1.0 and ACS3)', async () => {
    const problems: string[] = [];
    for (const [i, [action, params, after]] of RECIPES.entries()) {
      const s = await call(action, await params(), i % 2 ? 'v1' : 'acs3');
      expect(s.code, `${action}: ${JSON.stringify(s.json)}`).toBe('OK');
      after(s.json);
      sentCalls.push(s);
      problems.push(...(await expectAudited(s)));
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it('refused management calls are recorded with their refusal: another tenant\'s app (403), bad parameters (400), business rules (200)', async () => {
    const problems: string[] = [];
    let refusedGarbage = 0;
    for (const d of mutating) {
      // another tenant's app or tenant id: always refused, 403 Forbidden
      for (const [style, extra] of [
        ['acs3', { AppId: 'ALIPUB0000002' }],
        ['v1', { TenantId: 'TENANT02' }],
      ] as const) {
        const s = await call(d.name, extra, style);
        if (s.status !== 403 || s.code !== 'Forbidden') problems.push(`${d.name} ${JSON.stringify(extra)}: answered ${s.status} ${s.code}, not 403 Forbidden`);
        sentCalls.push(s);
        problems.push(...(await expectAudited(s)));
      }
      // garbage parameters: some are fine for some actions, so only the refusals are checked
      for (const [style, extra] of [
        ['acs3', { PageNum: 'x', Id: 'not-a-number', TaskStatus: 'x', ResourceType: 'x', GreyNum: 'x' }],
        ['v1', { Vhost: 'not a domain', H5Id: '1', WhiteListName: ' ', WhitelistType: 'nope', Id: '999999', WhitelistId: '999999', TaskId: '999999', UserId: ' ', WhitelistValue: ' ', FileUrl: 'http://elsewhere.example/x', KeyIds: 'x' }],
      ] as const) {
        const s = await call(d.name, extra, style);
        if (s.code === 'OK') continue;
        refusedGarbage++;
        sentCalls.push(s);
        problems.push(...(await expectAudited(s)));
      }
    }
    expect(problems).toEqual([]);
    // a floor, so that an action accepting all garbage cannot make this check vacuous
    expect(refusedGarbage).toBeGreaterThanOrEqual(mutating.length);
  }, 120_000);

  it('reads leave no row, and unauthenticated calls leave none', async () => {
    const before = await srv.node.deps.db.knex('audit_log').count({ n: '*' });
    for (const d of reads) {
      const s = await call(d.name, {}, 'acs3');
      if (await srv.node.deps.db.knex('audit_log').where({ request_id: s.requestId }).first()) fig.check('auditRowsForReads', 1);
    }
    for (const d of mutating) {
      const forged = await call(d.name, { Vhost: 'x.example.com' }, 'acs3', { accessKeyId: TEST_CREDS.accessKeyId, accessKeySecret: 'wrong-secret-wrong-secret-wrong' });
      expect(forged.code).toBe('SignatureDoesNotMatch');
      const unknown = await call(d.name, {}, 'v1', { accessKeyId: 'MCAKNOSUCHKEY00000000', accessKeySecret: 'whatever-whatever-whatever' });
      expect(unknown.code).toBe('InvalidAccessKeyId.NotFound');
      for (const s of [forged, unknown]) if (await srv.node.deps.db.knex('audit_log').where({ request_id: s.requestId }).first()) fig.add('forgedOrForeignAccepted');
    }
    const after = await srv.node.deps.db.knex('audit_log').count({ n: '*' });
    expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
  }, 60_000);

  it('`npm run admin -- audit list --json` shows every recorded call with key, tenant, action, parameters, result, request id and time', async () => {
    const r = await runCommand('npm', ['run', 'admin', '--', 'audit', 'list', '--json', '--limit', '10000'], srv.env.env);
    expect(r.code, r.stderr).toBe(0);
    // npm prints its own banner first; the command prints one JSON line
    const rows = JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('['))!) as Array<Record<string, any>>;
    const byId = new Map(rows.map((x) => [x.requestId, x]));
    const missing: string[] = [];
    for (const s of sentCalls) {
      const x = byId.get(s.requestId);
      const ok =
        x && x.action === s.action && x.tenantId === TEST_CREDS.tenantId && x.accessKeyId === s.accessKeyId && x.status === s.status && x.result === s.code &&
        Math.abs(Date.parse(x.time) - s.t1) < 60_000 && Object.entries(s.params).every(([k, v]) => String(x.params[k]) === v);
      if (!ok) missing.push(`${s.action} ${s.requestId}: ${JSON.stringify(x ?? null).slice(0, 200)}`);
    }
    fig.check('missingInCli', missing.length);
    expect(missing).toEqual([]);
    expect(rows.length).toBe(sentCalls.length);
    const secrets = [TEST_CREDS.accessKeySecret, 'Signature', 'ACS3-HMAC'].filter((n) => r.stdout.includes(n));
    fig.check('secretsInAudit', secrets.length);
    expect(secrets).toEqual([]);
    // the filters narrow it down
    const one = await runCommand('npm', ['run', '--silent', 'admin', '--', 'audit', 'list', '--json', '--action', 'CreateMcubeVhost', '--tenant', TEST_CREDS.tenantId], srv.env.env);
    const filtered = JSON.parse(one.stdout.trim()) as Array<{ action: string }>;
    expect(filtered.length).toBe(sentCalls.filter((s) => s.action === 'CreateMcubeVhost').length);
    expect(filtered.every((x) => x.action === 'CreateMcubeVhost')).toBe(true);
  }, 120_000);

  it('no error-level log lines; figures: zero in every column but inputs tried', () => {
    const errors = srv.logs.filter((l) => /"level":"error"/.test(l));
    fig.add('crashes', errors.length);
    expect(errors).toEqual([]);
    fig.expectClean();
  });
});
