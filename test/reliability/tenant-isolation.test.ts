import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistry } from '../../packages/server/src/actions.js';
import type { ActionDef } from '../../packages/server/src/core/registry.js';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { createTask, makeH5Zip, mcube, rsaKeyPair, uploadFile, utcIn, type Call } from '../helpers/nebula.js';
import { startTestServer, TEST_CREDS, type TestServer } from '../helpers/server.js';
import { listKeys } from './lib/db-state.js';
import { SuiteFigures } from './lib/figures.js';
import { sendRequest, signAcs3 } from '../helpers/signing.js';

/**
 * Two tenants on one server. Tenant A's key is pointed at everything of
 * tenant B: B's AppId, TenantId and workspace, B's package, task and
 * whitelist ids, B's uploads, B's names as search words, and every numeric
 * id there is (guessing). The cases are generated from the action registry,
 * so a new action is covered as soon as it is registered. B's rows and
 * objects must not change, and no answer to A may carry B's data.
 */
const fig = new SuiteFigures('tenant-isolation', {
  inputsTried: 'calls with tenant A\'s key aimed at tenant B (generated from the registry), plus device checks',
  crashes: '5xx answers and error-level log lines',
  hangs: 'calls without an answer within 30 s',
  forgedOrForeignAccepted: 'calls that reached B: answered OK for B\'s object, showed B\'s data, or changed B\'s rows or objects',
  overAdmissions: 'n/a: no time-window admission is counted here',
  orphansLeft: 'n/a: covered by crash-consistency and hostile-archives',
  bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
});
fig.check('wrongRefusal');

const actions = buildRegistry().all();
const COMMON = ['AppId', 'WorkspaceId', 'TenantId'];
const A_H5 = '11223344';
const B_H5 = '87654321';
/** strings that exist only in tenant B's data */
const B_MARKERS = ['B-SECRET', 'b-secret', '7.7.7.'];

let srv: TestServer;
const A = { ...TEST_CREDS };
const B = { accessKeyId: '', accessKeySecret: '', tenantId: 'TENANT02', appId: 'ALIPUB0000002', workspaceId: 'default' };
const ids = {
  aResources: [] as number[], aTasks: [] as number[], aWhitelists: [] as number[], bResources: [] as number[], bTasks: [] as number[], bWhitelists: [] as number[],
  aUpgradePackages: [] as number[], aUpgradeTasks: [] as number[], bUpgradePackages: [] as number[], bUpgradeTasks: [] as number[],
};
const bUploads: string[] = [];
let aUpload = '';
let bClientKey = '';
let maxId = 0;

async function publish(call: Call, h5Id: string, name: string, version: string): Promise<number> {
  const fileUrl = await uploadFile(call, `${h5Id}.zip`, await makeH5Zip(h5Id));
  const r = await call('CreateMcubeNebulaResource', {
    H5Id: h5Id, H5Name: name, H5Version: version, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
    FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
  });
  if (r.ResultCode !== 'OK') throw new Error(JSON.stringify(r));
  return Number(r.CreateMcubeNebulaResourceReslult.NebulaResourceId);
}

async function whitelist(call: Call, name: string, type: string, values: string): Promise<number> {
  const id = (await call('CreateMcubeWhitelist', { WhiteListName: name, WhitelistType: type })).CreateWhitelistResult.WhitelistId;
  expect((await call('UpdateMcubeWhitelist', { Id: id, KeyIds: values })).ResultCode).toBe('OK');
  return Number(id);
}

/** Everything of tenant B: rows of every table that names B's app (or hangs off B's rows), and B's stored objects. */
async function snapshotOfB(): Promise<string> {
  const k = srv.node.deps.db.knex;
  const out: Record<string, unknown> = {};
  for (const t of ['vhosts', 'rsa_keys', 'nebula_apps', 'nebula_resources', 'nebula_tasks', 'whitelists', 'blobs', 'change_stamps', 'workspaces', 'upgrade_packages', 'upgrade_tasks']) {
    out[t] = await k(t).where({ app_id: B.appId }).select('*').orderByRaw('1');
  }
  out.apps = await k('apps').where({ tenant_id: B.tenantId }).select('*');
  out.access_keys = await k('access_keys').where({ tenant_id: B.tenantId }).select('id', 'status', 'expires_at');
  out.entries = await k('whitelist_entries').whereIn('whitelist_id', k('whitelists').where({ app_id: B.appId }).select('id')).select('*').orderBy(['whitelist_id', 'value']);
  out.admissions = await k('grey_admissions').whereIn('task_id', k('nebula_tasks').where({ app_id: B.appId }).select('id')).select('task_id', 'user_key');
  out.objects = [
    ...(await listKeys(srv.node.deps.blobs, `pkg/${B.appId}/`)),
    ...(await listKeys(srv.node.deps.blobs, `pkg/${B.appId}-`)),
    ...(await listKeys(srv.node.deps.blobs, `uploads/${B.tenantId}/`)),
  ];
  return JSON.stringify(out);
}

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0', MCUBE_DEVICE_RATE_PER_MIN: '100000' });
  const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
  await tenants.ensureTenant(B.tenantId);
  await tenants.ensureApp(B.tenantId, B.appId);
  bClientKey = await tenants.ensureWorkspace(B.appId, B.workspaceId);
  await tenants.ensureWorkspace(B.appId, 'bws');
  const key = await tenants.createAccessKey(B.tenantId);
  B.accessKeyId = key.id;
  B.accessKeySecret = key.secret;
  const a = mcube(srv);
  const b = mcube(srv, B);

  // Interleaved, so A's and B's ids are neighbours in every table.
  for (const [call, h5, name] of [[a, A_H5, 'A-APP'], [b, B_H5, 'B-SECRET-APP']] as const) {
    expect((await call('CreateMcubeVhost', { Vhost: call === a ? 'a-vhost.example' : 'b-secret-vhost.example' })).ResultCode).toBe('OK');
    expect((await call('CreateMcubeNebulaApp', { H5Id: h5, H5Name: name })).ResultCode).toBe('OK');
  }
  expect((await b('UploadMcubeRsaKey', { FileUrl: await uploadFile(b, 'key.pem', Buffer.from(rsaKeyPair(1024).privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
  for (let i = 1; i <= 2; i++) {
    ids.aResources.push(await publish(a, A_H5, 'A-APP', `1.0.${i}`));
    ids.bResources.push(await publish(b, B_H5, 'B-SECRET-APP', `7.7.7.${i}`));
  }
  ids.aWhitelists.push(await whitelist(a, 'a-list', 'normal', 'a-user-1,a-user-2'));
  ids.bWhitelists.push(await whitelist(b, 'b-secret-list', 'normal', 'b-secret-user-1,b-secret-user-2'));
  ids.bWhitelists.push(await whitelist(b, 'b-secret-regex', 'regex', 'b-secret-.*'));
  ids.aTasks.push(await createTask(a, ids.aResources[0]!, { PublishType: 3, Memo: 'a-memo' }));
  ids.bTasks.push(await createTask(b, ids.bResources[0]!, { PublishType: 3, Memo: 'B-SECRET-MEMO' }));
  ids.bTasks.push(await createTask(b, ids.bResources[1]!, { PublishType: 2, PublishMode: 1, WhitelistIds: String(ids.bWhitelists[0]), Memo: 'B-SECRET-MEMO' }));
  ids.bTasks.push(await createTask(b, ids.bResources[1]!, { PublishType: 2, PublishMode: 2, GreyNum: 5, GreyEndtimeData: utcIn(24 * 3600_000), Memo: 'B-SECRET-MEMO' }));
  ids.aTasks.push(await createTask(a, ids.aResources[1]!, { PublishType: 2, PublishMode: 1, WhitelistIds: String(ids.aWhitelists[0]), Memo: 'a-memo' }));
  // upgrade packages (copied .apk files) and tasks of A, then of B, so their ids are neighbours too
  const aUp = await a('CreateMcubeUpgradePackage', { Platform: 'Android', AppVersion: '1.0.1', FileUrl: await uploadFile(a, 'a.apk', await makeH5Zip(A_H5)), OnexFlag: true });
  expect(aUp.ResultCode).toBe('OK');
  ids.aUpgradePackages.push(Number(aUp.ResultContent.Data));
  const aUt = await a('CreateMcubeUpgradeTask', { PackageInfoId: aUp.ResultContent.Data, PublishType: 3, UpgradeType: 204, Memo: 'a-memo' });
  ids.aUpgradeTasks.push(Number(aUt.CreateTaskResult.upgradeTaskId));
  const bApk = await uploadFile(b, 'b-secret.apk', await makeH5Zip(B_H5));
  const up = await b('CreateMcubeUpgradePackage', { Platform: 'Android', AppVersion: '7.7.7.9', FileUrl: bApk, Desc: 'B-SECRET-DESC', OnexFlag: true });
  expect(up.ResultCode).toBe('OK');
  ids.bUpgradePackages.push(Number(up.ResultContent.Data));
  const ut = await b('CreateMcubeUpgradeTask', { PackageInfoId: up.ResultContent.Data, PublishType: 2, PublishMode: 1, WhitelistIds: String(ids.bWhitelists[0]), UpgradeType: 202, UpgradeContent: 'B-SECRET-PROMPT' });
  expect(ut.ResultCode).toBe('OK');
  ids.bUpgradeTasks.push(Number(ut.CreateTaskResult.upgradeTaskId));
  // a device of B takes a time-window slot, so grey_admissions holds a row of B
  await deviceCheck(srv.url, { platform: 'android', client: '2.0.0', userId: 'b-secret-device', query: queryOf({ [B_H5]: '' }) }, { clientKey: bClientKey });
  for (const k of ['key.pem', `${B_H5}.zip`, 'ids.txt']) bUploads.push(await uploadFile(b, k, Buffer.from(k === 'key.pem' ? rsaKeyPair(1024).privatePem : 'b-secret-user-9\n')));
  aUpload = await uploadFile(a, `${A_H5}.zip`, await makeH5Zip(A_H5));
  maxId = Math.max(...Object.values(ids).flat());
}, 180_000);

afterAll(async () => {
  fig.write();
  await srv?.close();
});

interface Answer {
  status: number;
  json: any;
  text: string;
}

async function callAs(who: typeof A, action: string, params: Record<string, unknown>): Promise<Answer> {
  const p: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) p[k] = String(v);
  const r = await sendRequest(srv.host, signAcs3({ host: srv.host, accessKeyId: who.accessKeyId, secret: who.accessKeySecret }, action, p), 30_000);
  return { status: r.timedOut ? -1 : r.status, json: r.json, text: r.body.toString() };
}

type Kind = 'resource' | 'task' | 'whitelist' | 'upgradePackage' | 'upgradeTask';

/** What a numeric id field of an action names (ids are per table); unknown fields may name anything. */
function kindsOf(action: string, field: string): Kind[] {
  if (/Upgrade/.test(action)) {
    if (field === 'TaskId') return ['upgradeTask'];
    if (/^Package(Info)?Id$/.test(field) || field === 'Id') return ['upgradePackage'];
  }
  if (field === 'TaskId') return ['task'];
  if (field === 'PackageId') return ['resource'];
  if (/Whitelist/.test(field)) return ['whitelist'];
  if (field === 'Id') {
    if (/Whitelist/.test(action)) return ['whitelist'];
    if (/Resource|NebulaTasks$/.test(action)) return ['resource'];
    if (/Task/.test(action)) return ['task'];
  }
  return ['resource', 'task', 'whitelist', 'upgradePackage', 'upgradeTask'];
}
const idsOf = (who: 'a' | 'b', kinds: Kind[]) =>
  kinds.flatMap(
    (k) =>
      (who === 'a'
        ? { resource: ids.aResources, task: ids.aTasks, whitelist: ids.aWhitelists, upgradePackage: ids.aUpgradePackages, upgradeTask: ids.aUpgradeTasks }
        : { resource: ids.bResources, task: ids.bTasks, whitelist: ids.bWhitelists, upgradePackage: ids.bUpgradePackages, upgradeTask: ids.bUpgradeTasks })[k],
  );

/**
 * Values that make every other field of an action valid for tenant A (the
 * pipeline validates parameters before it checks the scope), so the field
 * under test is the only foreign thing. Delete actions get values that name
 * nothing, so A's own fixtures survive the run.
 */
function sampleFor(name: string, action: string): unknown {
  const del = action.startsWith('Delete');
  const s: Record<string, unknown> = {
    H5Id: del ? '99999999' : A_H5, H5Name: 'A-APP', ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '', MainUrl: '/www/index.html',
    AutoInstall: 1, InstallType: 1, OnexFlag: true, PackageId: ids.aResources[0], PublishType: 3, BizType: 'nebula', TaskId: ids.aTasks[0],
    WhitelistId: del ? 999_999 : ids.aWhitelists[0], WhiteListName: `a-iso-${Math.random().toString(36).slice(2)}`, WhitelistType: 'normal', UserId: 'a-ide',
    WhitelistValue: 'a-user-1', KeyIds: 'a-user-3', Vhost: 'a-vhost.example', PageNum: 1, PageSize: 200, FileUrl: aUpload,
  };
  if (/Upgrade/.test(action) && /^Package(Info)?Id$/.test(name)) return ids.aUpgradePackages[0];
  if (/Upgrade/.test(action) && name === 'TaskId') return ids.aUpgradeTasks[0];
  if (name === 'UpgradeType') return 204;
  if (name === 'H5Version') return `2.0.${Math.floor(Math.random() * 1e6)}`;
  if (name === 'TaskStatus') return action === 'ChangeMcubeNebulaTaskStatus' ? 3 : 1;
  if (name === 'Id') return action === 'CreateMcubeNebulaTask' ? 0 : del ? 999_999 : idsOf('a', kindsOf(action, name))[0];
  return s[name];
}

/** fields that hold values, not references to stored objects */
const NOT_REFS = new Set([...COMMON, 'UserId', 'KeyIds', 'MainUrl', 'SubUrl']);
const described = (def: ActionDef, f: string) => String((def.input[f] as { description?: string }).description ?? '');
const isNumericRef = (name: string) => /(^Id|Ids?)$/.test(name) && !NOT_REFS.has(name) && name !== 'H5Id';
/** a field naming a stored object (ids, upload URLs, the H5 app) or a search word; fields the action ignores are skipped */
const isRef = (def: ActionDef, name: string) =>
  !NOT_REFS.has(name) && !/^ignored/.test(described(def, name)) && (/(Id|Ids|Url)$/.test(name) || ['Keyword', 'WhitelistName', 'WhiteListName'].includes(name));

interface Case {
  action: ActionDef;
  label: string;
  params: Record<string, unknown>;
  /**
   * what is required: 'forbidden' (403), 'invalid-workspace' (400), 'refused' (not OK), or 'no-leak'
   * (any answer, e.g. a guessed id that is A's own or nobody's; B's rows are checked after every group)
   */
  need: 'forbidden' | 'invalid-workspace' | 'refused' | 'no-leak';
}

function casesFor(def: ActionDef): Case[] {
  const fields = Object.keys(def.input).filter((k) => !COMMON.includes(k));
  const base: Record<string, unknown> = {};
  for (const f of fields) base[f] = sampleFor(f, def.name);
  const out: Case[] = [
    { action: def, label: 'B\'s AppId', params: { ...base, AppId: B.appId, WorkspaceId: B.workspaceId }, need: 'forbidden' },
    { action: def, label: 'B\'s AppId and TenantId', params: { ...base, AppId: B.appId, WorkspaceId: B.workspaceId, TenantId: B.tenantId }, need: 'forbidden' },
    { action: def, label: 'B\'s TenantId with A\'s AppId', params: { ...base, AppId: A.appId, WorkspaceId: A.workspaceId, TenantId: B.tenantId }, need: 'forbidden' },
    { action: def, label: 'a workspace only B\'s app has', params: { ...base, AppId: A.appId, WorkspaceId: 'bws' }, need: 'invalid-workspace' },
    { action: def, label: 'A\'s own scope, nothing foreign', params: { ...base, AppId: A.appId, WorkspaceId: A.workspaceId }, need: 'no-leak' },
  ];
  const own = { AppId: A.appId, WorkspaceId: A.workspaceId };
  for (const f of fields.filter((f) => isRef(def, f))) {
    const values: Array<[string, unknown, Case['need']]> = [];
    if (isNumericRef(f)) {
      const kinds = kindsOf(def.name, f);
      const bIds = idsOf('b', kinds);
      const aIds = idsOf('a', kinds);
      // an id that is B's in one table and A's in another can only be checked for leaks
      for (const v of bIds) values.push([`B's id ${v}`, f.endsWith('Ids') ? `${ids.aWhitelists[0]},${v}` : v, aIds.includes(v) ? 'no-leak' : 'refused']);
      for (let v = 1; v <= maxId + 2; v++) if (!bIds.includes(v)) values.push([`guessed id ${v}`, v, 'no-leak']);
    } else if (/Url$/.test(f)) {
      for (const u of bUploads) values.push([`B's upload ${u.split('/').pop()}`, u, 'refused']);
    } else if (f === 'H5Id') {
      values.push(['B\'s H5Id', B_H5, 'no-leak']);
    } else {
      for (const w of ['B-SECRET', 'b-secret-list', B_H5, '7.7.7', 'b-secret-user-1', '']) values.push([`search ${JSON.stringify(w)}`, w, 'no-leak']);
    }
    for (const [label, value, need] of values) out.push({ action: def, label: `${f} = ${label}`, params: { ...base, ...own, [f]: value }, need });
  }
  return out;
}

function leaks(c: Case, a: Answer): string[] {
  const sent = JSON.stringify(c.params);
  return B_MARKERS.filter((m) => a.text.includes(m) && !sent.includes(m));
}

describe('tenant A\'s key against tenant B, for every registered action', () => {
  const reads = actions.filter((d) => !d.mutates);
  const writes = actions.filter((d) => d.mutates);
  let before = '';

  it('every action has generated cases', () => {
    for (const d of actions) expect(casesFor(d).length, d.name).toBeGreaterThanOrEqual(5);
    fig.extra('casesByAction', Object.fromEntries(actions.map((d) => [d.name, casesFor(d).length])));
    fig.extra('referenceFields', Object.fromEntries(actions.map((d) => [d.name, Object.keys(d.input).filter((f) => isRef(d, f))])));
  });

  for (const [group, defs] of [['read actions', reads], ['mutating actions', writes]] as const) {
    it(`${group}: refused (403 Forbidden, or "not found"), and never show or change B's data`, async () => {
      before ||= await snapshotOfB();
      const problems: string[] = [];
      for (const def of defs) {
        for (const c of casesFor(def)) {
          fig.add('inputsTried');
          const a = await callAs(A, def.name, c.params);
          const where = `${def.name} [${c.label}]`;
          if (a.status === -1) {
            fig.add('hangs');
            problems.push(`${where}: no answer`);
            continue;
          }
          if (a.status >= 500) {
            fig.add('crashes');
            problems.push(`${where}: ${a.status} ${a.text.slice(0, 200)}`);
            continue;
          }
          const ok = a.status === 200 && a.json?.ResultCode === 'OK';
          const shown = leaks(c, a);
          if (shown.length) {
            fig.add('forgedOrForeignAccepted');
            problems.push(`${where}: answer shows B's data ${shown.join(', ')}: ${a.text.slice(0, 300)}`);
          }
          if (c.need === 'forbidden' && !(a.status === 403 && a.json?.Code === 'Forbidden')) {
            if (ok) fig.add('forgedOrForeignAccepted');
            else fig.check('wrongRefusal', 1);
            problems.push(`${where}: expected 403 Forbidden, got ${a.status} ${a.json?.Code ?? a.json?.ResultCode}`);
          }
          if (c.need === 'invalid-workspace' && !(a.status === 400 && a.json?.Code === 'InvalidParameter' && /WorkspaceId/.test(a.json.Message))) {
            if (ok) fig.add('forgedOrForeignAccepted');
            else fig.check('wrongRefusal', 1);
            problems.push(`${where}: expected 400 InvalidParameter (WorkspaceId), got ${a.status} ${a.json?.Code ?? a.json?.ResultCode}`);
          }
          if (c.need === 'refused' && ok) {
            fig.add('forgedOrForeignAccepted');
            problems.push(`${where}: accepted: ${a.text.slice(0, 300)}`);
          }
        }
      }
      const after = await snapshotOfB();
      if (after !== before) {
        fig.add('forgedOrForeignAccepted');
        problems.push('B\'s rows or objects changed');
      }
      expect(problems.slice(0, 20)).toEqual([]);
      expect(after).toBe(before);
    }, 300_000);
  }

  it('A sees no RSA key, no vhost and no packages of B in its own answers', async () => {
    fig.add('inputsTried', 3);
    expect((await callAs(A, 'ExistMcubeRsaKey', { AppId: A.appId, WorkspaceId: A.workspaceId })).json.CheckRsaKeyResult.Data).toBe('fail');
    expect((await callAs(A, 'QueryMcubeVhost', { AppId: A.appId, WorkspaceId: A.workspaceId })).json.QueryVhostResult.Data).not.toMatch(/b-secret/);
    const list = await callAs(A, 'ListMcubeNebulaResources', { AppId: A.appId, WorkspaceId: A.workspaceId, PageSize: 200 });
    const listed = list.json.ListMcubeNebulaResourceResult.NebulaResourceInfo.map((r: any) => Number(r.Id));
    const aRows = await srv.node.deps.db.knex('nebula_resources').where({ app_id: A.appId }).pluck('id');
    expect(listed.sort()).toEqual(aRows.map(Number).sort());
    expect(listed.filter((id: number) => ids.bResources.includes(id))).toEqual([]);
  });

  it('devices: A\'s client key never gets B\'s packages, and cannot name B\'s app', async () => {
    const ask = (fields: Record<string, unknown>) => deviceCheck(srv.url, { platform: 'android', client: '2.0.0', userId: 'b-secret-user-1', ...fields }, { clientKey: TEST_CREDS.clientKey });
    fig.add('inputsTried', 3);
    const own = await ask({ query: queryOf({ [B_H5]: '', [A_H5]: '' }) });
    expect(own.status).toBe(200);
    expect(JSON.stringify(own.body)).not.toMatch(/7\.7\.7|b-secret/);
    const cross = await ask({ appId: B.appId, workspaceId: B.workspaceId, query: queryOf({ [B_H5]: '' }) });
    expect(cross.status).toBe(401);
    const ws = await ask({ workspaceId: 'bws', query: queryOf({ [B_H5]: '' }) });
    expect(ws.status).toBe(401);
    for (const r of [own, cross, ws]) if (JSON.stringify(r.body).includes('7.7.7')) fig.add('forgedOrForeignAccepted');
  });

  it('no error-level log lines; figures: zero in every column but inputs tried', () => {
    const errors = srv.logs.filter((l) => /"level":"error"/.test(l));
    fig.add('crashes', errors.length);
    expect(errors).toEqual([]);
    fig.expectClean();
  });
});
