import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, watch } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJanitor } from '../../packages/server/src/features/janitor/index.js';
import { makeH5Zip, rsaKeyPair, uploadFile, type Call } from '../helpers/nebula.js';
import { runCommand, startServerProcess, type ServerProcess } from '../helpers/process.js';
import { makeTestEnv, TEST_CREDS, type TestEnv } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';
import { listKeys, openSharedState, type SharedState } from './lib/db-state.js';
import { SuiteFigures } from './lib/figures.js';
import { freePort } from '../helpers/free-port.js';
import { sleep } from './lib/run-pool.js';
import { Prng, runSeed } from './lib/prng.js';

/**
 * A real server process, killed with SIGKILL at random moments while it
 * builds a package of a few MB (CreateMcubeNebulaResource) or creates a
 * release task, then restarted on the same data folder and database, again
 * and again. After every restart: the list actions show only whole packages
 * and tasks (both stored objects present, sizes and md5 right), an
 * acknowledged change is never lost, and after the janitor (grace 0) no
 * object under pkg/ lacks its committed row and no work folder or temp file
 * of a killed build is left.
 */
const KILLS = Number(process.env.MCUBE_CRASH_KILLS) >= 1 ? Number(process.env.MCUBE_CRASH_KILLS) : 50;
const SEED = runSeed();
const H5 = '44440001';

const fig = new SuiteFigures(
  'crash-consistency',
  {
    inputsTried: 'SIGKILLs at random points of CreateMcubeNebulaResource / CreateMcubeNebulaTask, each followed by a restart',
    crashes: 'restarts that failed, 5xx answers that were not caused by the kill, error-level log lines after restarts',
    hangs: 'calls without an answer within 60 s while the server was not killed',
    forgedOrForeignAccepted: 'n/a: every caller here is genuine',
    overAdmissions: 'n/a: no time-window task is involved',
    orphansLeft: 'after the janitor (grace 0): objects under pkg/ without a live registry row, pending registry rows, rows whose object is missing, work folders or temp files of killed builds',
    bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
  },
  SEED,
);
for (const c of ['halfBuiltVisible', 'acknowledgedLost', 'taskWithoutPackage', 'publishPeriodStale']) fig.check(c);

let env: TestEnv;
let state: SharedState;
let proc: ServerProcess | null = null;
let fileUrl = '';
let zipBytes = 0;
const prng = new Prng(SEED);

async function start(): Promise<ServerProcess> {
  proc = await startServerProcess(env.env, 60_000);
  return proc;
}

function caller(): Call {
  const c = openapiCore(proc!.host, TEST_CREDS, undefined, { readTimeout: 60_000 });
  return async (action, body = {}) => (await c(action, { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId, TenantId: TEST_CREDS.tenantId, ...body })).body;
}

const resourceParams = (version: string) => ({
  H5Id: H5, H5Name: 'crash', H5Version: version, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
  FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
});

beforeAll(async () => {
  const port = await freePort();
  // the same address after every restart, so the uploaded FileUrl stays ours
  env = makeTestEnv({ MCUBE_PORT: String(port), MCUBE_PUBLIC_URL: `http://127.0.0.1:${port}`, MCUBE_JANITOR_INTERVAL_SEC: '0', MCUBE_LOG_LEVEL: 'warn' });
  await start();
  state = await openSharedState(env.env);
  const call = caller();
  expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
  expect((await call('CreateMcubeNebulaApp', { H5Id: H5, H5Name: 'crash' })).ResultCode).toBe('OK');
  // a signed package: the build also signs, so it takes a moment longer
  expect((await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'key.pem', Buffer.from(rsaKeyPair(2048).privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
  const files: Record<string, Buffer | string> = { 'www/index.html': '<p>crash</p>' };
  for (let i = 0; i < 8; i++) files[`www/assets/blob-${i}.bin`] = randomBytes(512 * 1024);
  const zip = await makeH5Zip(H5, files);
  zipBytes = zip.length;
  fileUrl = await uploadFile(call, `${H5}.zip`, zip);
}, 120_000);

afterAll(async () => {
  fig.write();
  await proc?.stop('SIGKILL');
  await state?.close();
  await env?.cleanup();
});

interface Row {
  id: number;
  amr_key: string;
  json_key: string;
  md5: string;
  file_size: number;
  publish_period: number;
}

/** Everything a restart must find whole; returns the problems seen. */
async function checkWhole(expectResource: string | null, expectTask: number | null, checkMd5Of: string | null): Promise<string[]> {
  const problems: string[] = [];
  const call = caller();
  const listed: any[] = [];
  for (let page = 1; ; page++) {
    const r = await call('ListMcubeNebulaResources', { H5Id: H5, PageNum: page, PageSize: 500 });
    listed.push(...r.ListMcubeNebulaResourceResult.NebulaResourceInfo);
    if (!r.ListMcubeNebulaResourceResult.HasMore) break;
  }
  const rows: Row[] = await state.db.knex('nebula_resources').where({ app_id: TEST_CREDS.appId }).select('id', 'amr_key', 'json_key', 'md5', 'file_size', 'publish_period');
  const byId = new Map(rows.map((r) => [Number(r.id), r]));
  for (const info of listed) {
    const row = byId.get(Number(info.Id));
    if (!row) {
      problems.push(`listed package ${info.Id} has no row`);
      continue;
    }
    const amr = await state.blobs.head(row.amr_key);
    const json = await state.blobs.head(row.json_key);
    if (!amr || !json || amr.size !== Number(row.file_size) || String(amr.size) !== String(info.FileSize)) {
      fig.check('halfBuiltVisible', 1);
      problems.push(`package ${info.Id} (${info.H5Version}) is visible but its .amr/.json is missing or of the wrong size`);
    }
    if (checkMd5Of === info.H5Version && amr) {
      const h = createHash('md5');
      for await (const c of await state.blobs.getStream(row.amr_key)) h.update(c as Buffer);
      if (h.digest('hex') !== row.md5 || row.md5 !== info.Md5) {
        fig.check('halfBuiltVisible', 1);
        problems.push(`package ${info.Id}: the stored .amr does not match its md5`);
      }
    }
    const tasks = (await call('ListMcubeNebulaTasks', { Id: Number(info.Id) })).ListMcubeNebulaTaskResult.NebulaTaskInfo as any[];
    const taskRows = await state.db.knex('nebula_tasks').where({ resource_id: row.id }).select('id', 'task_status');
    if (tasks.length !== taskRows.length) problems.push(`package ${info.Id}: ${tasks.length} tasks listed, ${taskRows.length} rows`);
    // the period is written in the task's own transaction: a task without it would be half a change
    const open = taskRows.filter((t) => Number(t.task_status) !== 2).length;
    if (open > 0 && Number(row.publish_period) === 0) {
      fig.check('publishPeriodStale', 1);
      problems.push(`package ${info.Id} has ${open} open tasks but publish period 0`);
    }
  }
  if (listed.length !== rows.length) problems.push(`${listed.length} packages listed, ${rows.length} rows`);
  const orphanTasks = await state.db.knex('nebula_tasks as t').leftJoin('nebula_resources as r', 'r.id', 't.resource_id').whereNull('r.id').count({ n: '*' });
  const n = Number((orphanTasks[0] as { n: unknown }).n);
  if (n) {
    fig.check('taskWithoutPackage', n);
    problems.push(`${n} tasks without their package`);
  }
  if (expectResource && !rows.length) problems.push('no rows at all');
  if (expectResource && !listed.some((i) => i.H5Version === expectResource)) {
    fig.check('acknowledgedLost', 1);
    problems.push(`package ${expectResource} was acknowledged but is gone`);
  }
  if (expectTask && !(await state.db.knex('nebula_tasks').where({ id: expectTask }).first())) {
    fig.check('acknowledgedLost', 1);
    problems.push(`task ${expectTask} was acknowledged but is gone`);
  }
  return problems;
}

/** Resolves at the first entry created in `dir` (or after `ms`). */
function onFirstChange(dir: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const w = watch(dir, () => done());
    const t = setTimeout(() => done(), ms);
    function done() {
      clearTimeout(t);
      w.close();
      resolve();
    }
  });
}

/** Runs the janitor with no grace period, then counts what is still out of step. */
async function sweepAndCountOrphans(): Promise<{ report: Awaited<ReturnType<typeof runJanitor>>; orphans: string[] }> {
  const report = await runJanitor(state.deps({ graceSec: 0 }));
  const orphans: string[] = [];
  const live = new Map<string, string>();
  for (const r of await state.db.knex('blobs').select('key', 'state')) live.set(r.key, r.state);
  for (const key of await listKeys(state.blobs, 'pkg/')) if (live.get(key) !== 'live') orphans.push(`object ${key} has ${live.get(key) ?? 'no'} registry row`);
  for (const [key, st] of live) {
    if (st !== 'live') orphans.push(`registry row ${key} left in state ${st}`);
    else if (!(await state.blobs.head(key))) orphans.push(`live row ${key} has no object`);
  }
  const referenced = new Set((await state.db.knex('nebula_resources').select('amr_key', 'json_key')).flatMap((r) => [r.amr_key, r.json_key]));
  for (const [key, st] of live) if (st === 'live' && !referenced.has(key)) orphans.push(`live row ${key} is referenced by no package`);
  // what a killed build or write left on disk (the server is idle now, so nothing there is in use)
  for (const dir of [state.config.packages.workDir, join(env.dataDir, 'blobs', '.tmp')]) {
    for (const name of existsSync(dir) ? readdirSync(dir) : []) orphans.push(`leftover ${join(dir, name)}`);
  }
  return { report, orphans };
}

describe(`SIGKILL at random points, ${KILLS} times, on one data folder`, () => {
  it('after every restart: only whole packages and tasks, nothing acknowledged lost, no orphans after the janitor', async () => {
    // How long one uninterrupted build takes: the kills are spread over that time.
    const t0 = Date.now();
    const first = await caller()('CreateMcubeNebulaResource', resourceParams('1.0.0'));
    const buildMs = Date.now() - t0;
    expect(first.ResultCode, JSON.stringify(first)).toBe('OK');
    fig.extra('zipBytes', zipBytes);
    fig.extra('uninterruptedBuildMs', buildMs);

    const problems: string[] = [];
    const swept = { pendingSwept: 0, deletedSwept: 0, orphansSwept: 0, uploadsSwept: 0, tempSwept: 0 };
    const outcomes: Record<string, number> = {};
    let restartMsTotal = 0;
    const killsBy: Record<string, number> = {};
    let acknowledged: string | null = '1.0.0';
    let version = 1;
    let checkMd5 = '';
    for (let kill = 0; kill < KILLS; kill++) {
      const call = caller();
      const taskRun = kill % 3 === 2;
      // Where to kill: at a random moment, or right inside the dangerous window of a package build
      // (its objects are claimed in the registry and being written, the row not yet committed).
      const strategy = taskRun ? 'random' : prng.pick(['random', 'after-claim', 'after-claim', 'temp-file']);
      // a restarted process is cold: its first build takes longer than the warm one measured above
      const delay = prng.int(0, Math.round((taskRun ? 0.5 : 2) * buildMs));
      let label: string;
      let answered: { ok: boolean; value: string | number } | null = null;
      let pending: Promise<void>;
      let v = '';
      const tmpDir = join(env.dataDir, 'blobs', '.tmp');
      mkdirSync(tmpDir, { recursive: true });
      const tempSeen = strategy === 'temp-file' ? onFirstChange(tmpDir, 10_000) : null;
      if (taskRun) {
        const pkgs = await state.db.knex('nebula_resources').where({ app_id: TEST_CREDS.appId }).pluck('id');
        const pkg = Number(prng.pick(pkgs));
        label = 'task';
        pending = call('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, BizType: 'nebula', PublishType: 3, Memo: `kill ${kill}` }).then(
          (r) => {
            answered = r.ResultCode === 'OK' ? { ok: true, value: Number(r.CreateMcubeNebulaTaskResult.NebulaTaskId) } : { ok: false, value: r.ResultCode };
          },
          () => {},
        );
      } else {
        v = `1.0.${version++}`;
        label = 'package';
        pending = call('CreateMcubeNebulaResource', resourceParams(v)).then(
          (r) => {
            answered = { ok: r.ResultCode === 'OK', value: r.ResultCode === 'OK' ? v : r.ResultCode };
          },
          () => {},
        );
      }
      if (strategy === 'random') await sleep(delay);
      else if (strategy === 'temp-file') {
        await tempSeen;
        await sleep(prng.int(0, 3));
      } else {
        const key = `pkg/${TEST_CREDS.appId}/${TEST_CREDS.workspaceId}/${H5}/${v}_all/nebula/${H5}_${v}.amr`;
        for (const until = Date.now() + 10_000; Date.now() < until && !(await state.db.knex('blobs').where({ key }).first('state')); ) await sleep(2);
        await sleep(prng.int(0, 40));
      }
      killsBy[strategy] = (killsBy[strategy] ?? 0) + 1;
      await proc!.stop('SIGKILL');
      await pending;
      fig.add('inputsTried');
      const a = answered as { ok: boolean; value: string | number } | null;
      const outcome = `${label}: ${a ? (a.ok ? 'acknowledged' : `refused ${a.value}`) : 'killed before the answer'}`;
      if (v) checkMd5 = v;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (a && !a.ok && !['TooManyTasks'].includes(String(a.value))) {
        problems.push(`kill ${kill}: unexpected refusal ${a.value}`);
      }

      const r0 = Date.now();
      try {
        await start();
      } catch (e) {
        fig.add('crashes');
        problems.push(`kill ${kill}: restart failed: ${(e as Error).message.slice(0, 300)}`);
        break;
      }
      restartMsTotal += Date.now() - r0;
      acknowledged = label === 'package' && a?.ok ? String(a.value) : null;
      const ackTask = label === 'task' && a?.ok ? Number(a.value) : null;
      const seen = await checkWhole(acknowledged, ackTask, label === 'package' ? checkMd5 : null);
      problems.push(...seen.map((p) => `kill ${kill} (${outcome}, after ${delay} ms): ${p}`));
      const { report, orphans } = await sweepAndCountOrphans();
      for (const k of Object.keys(swept) as Array<keyof typeof swept>) swept[k] += report[k];
      fig.add('orphansLeft', orphans.length);
      problems.push(...orphans.map((o) => `kill ${kill}: after the janitor: ${o}`));
      const errors = proc!.stdout().split('\n').filter((l) => /"level":"error"/.test(l));
      fig.add('crashes', errors.length);
      problems.push(...errors.map((l) => `kill ${kill}: ${l.slice(0, 200)}`));
    }
    const tmp = join(env.dataDir, 'blobs', '.tmp');
    fig.extra('killOutcomes', outcomes);
    fig.extra('killPoints', killsBy);
    fig.extra('janitorSwept', swept);
    fig.extra('averageRestartMs', Math.round(restartMsTotal / KILLS));
    fig.extra('tempFilesLeftInBlobsTmp', existsSync(tmp) ? readdirSync(tmp).length : 0);
    fig.extra('packagesAtEnd', Number(((await state.db.knex('nebula_resources').count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n));
    expect(problems.slice(0, 20)).toEqual([]);
  }, 1_200_000);

  it('the admin janitor command finds nothing more to sweep, and the server still builds a package', async () => {
    const r = await runCommand('npm', ['run', '--silent', 'admin', '--', 'janitor', 'run', '--json'], { ...env.env, MCUBE_JANITOR_GRACE_SEC: '0' });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(report).toMatchObject({ pendingSwept: 0, deletedSwept: 0, orphansSwept: 0 });
    const done = await caller()('CreateMcubeNebulaResource', resourceParams('2.0.0'));
    expect(done.ResultCode, JSON.stringify(done)).toBe('OK');
    expect((await sweepAndCountOrphans()).orphans).toEqual([]);
  }, 120_000);

  it('figures: zero in every column but inputs tried', () => {
    fig.expectClean();
  });
});
