import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { makeH5Zip, uploadFile, utcIn, type Call } from '../helpers/nebula.js';
import type { ServerProcess } from '../helpers/process.js';
import { TEST_CREDS, testDb } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';
import { startCluster, type Cluster } from './lib/cluster.js';
import { openSharedState, type SharedState } from './lib/db-state.js';
import { SuiteFigures } from './lib/figures.js';
import { runPool, sleep } from './lib/run-pool.js';
import { Prng, runSeed } from './lib/prng.js';

/**
 * Two server processes on one database (one SQLite data folder, or one
 * PostgreSQL schema) and one blob store. 10,000 distinct devices ask for one
 * time-window task with GreyNum 1,000, spread over both nodes at once:
 * exactly 1,000 are admitted and keep their package. Then pause, continue
 * and end are fired at one task from both nodes at once, round after round:
 * every outcome is one the transition rules allow, nothing is lost, and an
 * ended task stays ended.
 */
const DEVICES = Number(process.env.MCUBE_CONCURRENCY_DEVICES) > 0 ? Number(process.env.MCUBE_CONCURRENCY_DEVICES) : 10_000;
const GREY_NUM = Math.round(DEVICES / 10);
const ROUNDS = 20;
const H5 = '33330001';
const MARKER_H5 = '33330002';
const SEED = runSeed();

const fig = new SuiteFigures(
  'concurrency',
  {
    inputsTried: 'device update checks (first asks and re-checks) plus concurrent status-change calls',
    crashes: '5xx answers, error-level log lines, and nodes that died',
    hangs: 'requests without an answer within 60 s',
    forgedOrForeignAccepted: 'n/a: every caller here is genuine',
    overAdmissions: 'devices served, grey_admissions rows or the grey_admitted counter above GreyNum',
    orphansLeft: 'n/a: covered by crash-consistency',
    bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
  },
  SEED,
);
for (const c of ['underAdmissions', 'servedNotAdmitted', 'admittedLostPackage', 'recheckUsedSlot', 'disallowedOutcome', 'lostUpdates', 'unauditedChanges', 'endedTaskChanged', 'nodesDisagree']) fig.check(c);

let cluster: Cluster;
let state: SharedState;
let node: ServerProcess[];

function caller(host: string): Call {
  const c = openapiCore(host, TEST_CREDS, undefined, { readTimeout: 60_000 });
  return async (action, body = {}) => (await c(action, { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId, TenantId: TEST_CREDS.tenantId, ...body })).body;
}

async function publish(call: Call, h5Id: string, version: string): Promise<number> {
  const fileUrl = await uploadFile(call, `${h5Id}.zip`, await makeH5Zip(h5Id));
  const r = await call('CreateMcubeNebulaResource', {
    H5Id: h5Id, H5Name: `app ${h5Id}`, H5Version: version, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
    FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
  });
  if (r.ResultCode !== 'OK') throw new Error(JSON.stringify(r));
  return Number(r.CreateMcubeNebulaResourceReslult.NebulaResourceId);
}

async function task(call: Call, packageId: number, fields: Record<string, unknown>): Promise<number> {
  const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: packageId, BizType: 'nebula', ...fields });
  if (r.ResultCode !== 'OK') throw new Error(JSON.stringify(r));
  return Number(r.CreateMcubeNebulaTaskResult.NebulaTaskId);
}

const ask = (n: ServerProcess, userId: string, apps: Record<string, string>) =>
  deviceCheck(n.url, { platform: 'android', client: '2.0.0', userId, query: queryOf(apps) }, { clientKey: TEST_CREDS.clientKey });

async function count(table: string, where: Record<string, unknown>): Promise<number> {
  return Number(((await state.db.knex(table).where(where).count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n);
}

beforeAll(async () => {
  cluster = await startCluster(2, { MCUBE_DEVICE_RATE_PER_MIN: '0', MCUBE_LOG_LEVEL: 'warn' });
  node = cluster.nodes;
  state = await openSharedState(cluster.nodeEnv);
  const call = caller(node[0]!.host);
  expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
}, 120_000);

afterAll(async () => {
  fig.write();
  await state?.close();
  await cluster?.close();
});

function nodeProblems(): string[] {
  const out: string[] = [];
  for (const [i, n] of node.entries()) {
    if (n.proc.exitCode !== null) out.push(`node ${i + 1} exited with ${n.proc.exitCode}`);
    out.push(...n.stdout().split('\n').filter((l) => /"level":"error"/.test(l)).map((l) => `node ${i + 1}: ${l.slice(0, 300)}`));
  }
  return out;
}

describe(`a time-window task with GreyNum ${GREY_NUM}, ${DEVICES} devices, two nodes on one ${testDb === 'postgres' ? 'PostgreSQL schema' : 'SQLite data folder'}`, () => {
  let taskId = 0;
  const served = new Set<string>();
  /** the node each device asked first */
  const firstNode = new Map<string, number>();

  it(`admits exactly ${GREY_NUM} devices across both nodes`, async () => {
    const call = caller(node[0]!.host);
    const pkg = await publish(call, H5, '1.0.0.1');
    taskId = await task(call, pkg, { PublishType: 2, PublishMode: 2, GreyNum: GREY_NUM, GreyEndtimeData: utcIn(24 * 3600_000), Memo: 'window' });
    // A later change of the same app: once a node delivers it, its snapshot holds the window task too.
    await task(call, await publish(call, MARKER_H5, '1.0.0.1'), { PublishType: 3 });
    for (const n of node) {
      let seen = false;
      for (let i = 0; i < 200 && !seen; i++) {
        seen = (await ask(n, 'probe', { [MARKER_H5]: '' })).body.data.length === 1;
        if (!seen) await sleep(50);
      }
      expect(seen, `node ${n.url} never saw the new tasks`).toBe(true);
    }

    const prng = new Prng(SEED);
    const users = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
    for (let i = users.length - 1; i > 0; i--) {
      const j = prng.int(0, i);
      [users[i], users[j]] = [users[j]!, users[i]!];
    }
    const t0 = Date.now();
    const failures: string[] = [];
    await runPool(users, 64, async (u, i) => {
      fig.add('inputsTried');
      firstNode.set(u, i % 2);
      const r = await Promise.race([ask(node[i % 2]!, u, { [H5]: '' }), sleep(60_000).then(() => null)]).catch((e: Error) => ({ status: 0, body: String(e) }) as const);
      if (r === null) {
        fig.add('hangs');
        return;
      }
      if (r.status !== 200) {
        if (r.status >= 500 || r.status === 0) fig.add('crashes');
        failures.push(`${u}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        return;
      }
      if ((r.body.data as any[]).some((e) => e.app_id === H5 && e.version === '1.0.0.1')) served.add(u);
    });
    fig.extra('admissionRunMs', Date.now() - t0);

    const rows: string[] = await state.db.knex('grey_admissions').where({ task_id: taskId }).pluck('user_key');
    const counter = Number((await state.db.knex('nebula_tasks').where({ id: taskId }).first('grey_admitted')).grey_admitted);
    const over = Math.max(served.size, rows.length, counter) - GREY_NUM;
    if (over > 0) fig.add('overAdmissions', over);
    fig.check('underAdmissions', Math.max(0, GREY_NUM - Math.min(served.size, rows.length, counter)));
    const admitted = new Set(rows);
    fig.check('servedNotAdmitted', [...served].filter((u) => !admitted.has(u)).length);
    fig.extra('admissions', { served: served.size, rows: rows.length, counter, perNode: [0, 1].map((k) => [...served].filter((u) => firstNode.get(u) === k).length) });

    expect(failures.slice(0, 5)).toEqual([]);
    expect(served.size).toBe(GREY_NUM);
    expect(rows.length).toBe(GREY_NUM);
    expect(counter).toBe(GREY_NUM);
    expect([...served].sort()).toEqual([...admitted].sort());
    expect(nodeProblems()).toEqual([]);
  }, 600_000);

  it('admitted devices keep the package on a re-check at the other node; the others still do not get it, and no slot moves', async () => {
    const users = Array.from({ length: DEVICES }, (_, i) => `dev-${String(i).padStart(5, '0')}`);
    const others = users.filter((u) => !served.has(u)).slice(0, GREY_NUM);
    const lost: string[] = [];
    const gained: string[] = [];
    await runPool([...served, ...others], 64, async (u) => {
      fig.add('inputsTried');
      const r = await ask(node[1 - firstNode.get(u)!]!, u, { [H5]: '' });
      if (r.status >= 500) fig.add('crashes');
      const has = r.status === 200 && (r.body.data as any[]).some((e) => e.version === '1.0.0.1');
      if (served.has(u) && !has) lost.push(u);
      if (!served.has(u) && has) gained.push(u);
    });
    fig.check('admittedLostPackage', lost.length);
    fig.add('overAdmissions', gained.length);
    const rows = await count('grey_admissions', { task_id: taskId });
    const counter = Number((await state.db.knex('nebula_tasks').where({ id: taskId }).first('grey_admitted')).grey_admitted);
    fig.check('recheckUsedSlot', Math.abs(rows - GREY_NUM) + Math.abs(counter - GREY_NUM));
    expect(lost).toEqual([]);
    expect(gained).toEqual([]);
    expect([rows, counter]).toEqual([GREY_NUM, GREY_NUM]);
  }, 300_000);
});

const ALLOWED = new Set(['0>1', '0>2', '1>3', '3>1', '1>2', '3>2']);

/** Whether the successful changes can be put in an order the rules allow, from `start`, ending at `final`. */
function serialisable(start: number, targets: number[], final: number): boolean {
  if (targets.length === 0) return start === final;
  return targets.some((t, i) => ALLOWED.has(`${start}>${t}`) && serialisable(t, [...targets.slice(0, i), ...targets.slice(i + 1)], final));
}

describe('pause, continue and end fired at one task from both nodes at once', () => {
  let taskId = 0;
  let pkg = 0;

  interface Shot {
    to: number;
    code: string;
    requestId: string;
    status: number;
  }

  async function volley(targets: number[]): Promise<Shot[]> {
    const calls = [caller(node[0]!.host), caller(node[1]!.host)];
    return Promise.all(
      targets.map(async (to, i) => {
        fig.add('inputsTried');
        const r = await calls[i % 2]!('ChangeMcubeNebulaTaskStatus', { BizType: 'nebula', TaskId: String(taskId), PackageId: String(pkg), TaskStatus: to }).catch((e: any) => ({
          ResultCode: `HTTP ${e.statusCode ?? 0} ${e.code ?? e.message}`,
          RequestId: e.data?.RequestId ?? '',
          status: Number(e.statusCode ?? 0),
        }));
        const status = (r as { status?: number }).status ?? 200;
        if (status >= 500 || status === 0) fig.add('crashes');
        return { to, code: String(r.ResultCode), requestId: String(r.RequestId), status };
      }),
    );
  }

  async function statusOnBothNodes(): Promise<number[]> {
    return Promise.all(node.map(async (n) => Number((await caller(n.host)('GetMcubeNebulaTaskDetail', { TaskId: taskId })).GetMcubeNebulaTaskDetailResult.NebulaTaskDetail.TaskStatus)));
  }

  async function audited(shots: Shot[]): Promise<number> {
    let missing = 0;
    for (const s of shots) {
      const row = await state.db.knex('audit_log').where({ request_id: s.requestId }).first('action', 'result_code');
      if (!row || row.action !== 'ChangeMcubeNebulaTaskStatus' || row.result_code !== s.code) missing++;
    }
    return missing;
  }

  it(`${ROUNDS} rounds of pause and continue from both nodes: outcomes the rules allow, nothing lost, every change audited`, async () => {
    const call = caller(node[0]!.host);
    pkg = await publish(call, H5, '1.0.0.2');
    taskId = await task(call, pkg, { PublishType: 3 });
    const problems: string[] = [];
    let status = 1;
    const outcomes: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      const shots = await volley(status === 1 ? [3, 3, 1, 1, 3, 1] : [1, 1, 3, 3, 1, 3]);
      for (const s of shots) outcomes[s.code] = (outcomes[s.code] ?? 0) + 1;
      // changes of one task are serialised under its package's lock: each sees the one before, so none fails as ConcurrentChange
      const bad = shots.filter((s) => !['OK', 'InvalidTaskStatusChange'].includes(s.code));
      if (bad.length) {
        fig.check('disallowedOutcome', bad.length);
        problems.push(`round ${round}: ${bad.map((s) => `${s.to}:${s.code}`).join(' ')}`);
      }
      const final = Number((await state.db.knex('nebula_tasks').where({ id: taskId }).first('task_status')).task_status);
      const wins = shots.filter((s) => s.code === 'OK').map((s) => s.to);
      if (!serialisable(status, wins, final)) {
        fig.check('lostUpdates', 1);
        problems.push(`round ${round}: from ${status}, changes ${wins.join(',')} cannot end at ${final}`);
      }
      const unaudited = await audited(shots);
      fig.check('unauditedChanges', unaudited);
      if (unaudited) problems.push(`round ${round}: ${unaudited} answers without their audit row`);
      const seen = await statusOnBothNodes();
      if (seen.some((v) => v !== final)) {
        fig.check('nodesDisagree', 1);
        problems.push(`round ${round}: nodes read ${seen.join('/')} but the row holds ${final}`);
      }
      status = final;
    }
    fig.extra('statusChangeOutcomes', outcomes);
    expect(problems).toEqual([]);
    expect(nodeProblems()).toEqual([]);
  }, 300_000);

  it('end fired with pause and continue: exactly one end wins; afterwards every change is refused and the task stays ended', async () => {
    const start = Number((await state.db.knex('nebula_tasks').where({ id: taskId }).first('task_status')).task_status);
    const shots = await volley([2, 2, 3, 1, 2, 3]);
    const final = Number((await state.db.knex('nebula_tasks').where({ id: taskId }).first('task_status')).task_status);
    const wins = shots.filter((s) => s.code === 'OK').map((s) => s.to);
    expect(final).toBe(2);
    expect(wins.filter((t) => t === 2)).toHaveLength(1);
    expect(serialisable(start, wins, final)).toBe(true);
    for (let round = 0; round < 5; round++) {
      const later = await volley([1, 3, 2, 0, 1, 3]);
      const accepted = later.filter((s) => s.code === 'OK');
      fig.check('endedTaskChanged', accepted.length);
      expect(accepted).toEqual([]);
      expect(later.every((s) => s.code === 'InvalidTaskStatusChange' || s.code === 'InvalidTaskStatus')).toBe(true);
    }
    expect(Number((await state.db.knex('nebula_tasks').where({ id: taskId }).first('task_status')).task_status)).toBe(2);
    expect(await statusOnBothNodes()).toEqual([2, 2]);
    fig.check('unauditedChanges', await audited(shots));
  }, 120_000);

  it('no node crashed or logged an error; figures: zero in every column but inputs tried', () => {
    const problems = nodeProblems();
    fig.add('crashes', problems.length);
    expect(problems).toEqual([]);
    fig.expectClean();
  });
});
