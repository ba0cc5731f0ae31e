// Device endpoint versus a bare node:http server, on loopback, with the
// delivery data set of the brief: 100 H5 apps x 10 versions x 3 tasks, a
// normal whitelist of 1,000,000 user ids, a regex whitelist of 20
// expressions and advanced rules. For each database (SQLite; PostgreSQL too
// when DATABASE_URL is set): seed a fresh database, start the server process
// and a bare server answering a fixed body of the typical answer's size,
// drive both the same way from a separate process (bench/lib/delivery-drive.ts:
// peak, then half of the device endpoint's peak rate, evenly paced), and print
// throughput, p50/p99, the CPU each server and the driver used, RSS, the
// ratios against the targets and the change propagation time.
// Usage: npx tsx bench/delivery.ts [--seconds 10] [--connections 50] [--only sqlite|postgres] [--driver raw|autocannon]
//   (DATABASE_URL=postgres://... for PostgreSQL too; --driver autocannon: the earlier driver, for comparison)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { loadConfig } from '../packages/server/src/config.js';
import { bumpStamp } from '../packages/server/src/db/stamps.js';
import { CHANGE_LOG_MAX, whitelistStore } from '../packages/server/src/features/whitelists/whitelist-store.js';
import { buildServer } from '../packages/server/scripts/build.mjs';
import { ROOT, startServerProcess, type ServerProcess } from '../test/helpers/process.js';
import { cpuMs } from './lib/proc.js';
import { BENCH_APPS, h5IdOf, regexMatchingId, seedDelivery, whitelistedId } from './lib/delivery-seed.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 50);
const DRIVER = process.argv.includes('--driver') ? process.argv[process.argv.indexOf('--driver') + 1] : 'raw';
if (DRIVER !== 'raw' && DRIVER !== 'autocannon') throw new Error('--driver raw|autocannon');
// --server-args "<node flags>": extra flags for the server process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p" or "--trace-gc");
// its stdout (where --trace-gc writes) is saved to --server-stdout <file> when given
const SERVER_ARGS = process.argv.includes('--server-args') ? process.argv[process.argv.indexOf('--server-args') + 1]!.split(' ').filter(Boolean) : [];
const SERVER_STDOUT = process.argv.includes('--server-stdout') ? process.argv[process.argv.indexOf('--server-stdout') + 1]! : null;
const TARGET = { ratio: 0.7, p99Ms: 5, rssMb: 250, propagationMs: 1000 };

/** What one driver run reports (bench/lib/delivery-drive.ts); sums, so runs can be added up. */
interface RunResult {
  requests: number;
  non2xx: number;
  errors: number;
  /** counted seconds */
  seconds: number;
  windowMs: number;
  driverCpuMs: number;
  serverCpuMs: number;
  /** machine jiffies busy / stolen by the hypervisor / in all over the counted window */
  machineBusy: number;
  machineSteal: number;
  machineTotal: number;
  /** paced runs: p99 of how late the driver noticed a due request (ms) */
  lagP99: number;
}
/** The figures of one server under one load, over all its segments. */
interface Drive {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** % of one core */
  driverCpu: number;
  serverCpu: number;
  serverUsPerReq: number;
  /** % of all CPUs: busy, and stolen by the hypervisor (this is a VM; steal means the figures are low) */
  machineBusy: number;
  machineSteal: number;
  lagP99: number;
}
interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** The request pool: 40 % ids from the million-id list, 10 % matching a regex, 50 % others; 5 H5 apps each, installed 1.0.7. */
function requestPool(clientKey: string, n = 1000): Req[] {
  const pool: Req[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 10;
    const userId = kind < 4 ? whitelistedId((i * 7919) % 1_000_000) : kind === 4 ? regexMatchingId(i) : `d-${i}`;
    const apps = Array.from({ length: 5 }, (_, k) => h5IdOf((i * 5 + k) % BENCH_APPS));
    const map = JSON.stringify(Object.fromEntries(apps.map((id) => [id, { app_id: id, version: '1.0.7' }])));
    const body = new URLSearchParams({
      platform: i % 2 ? 'ios' : 'android',
      client: '2.3.0',
      system: '12.1',
      netType: 'WIFI',
      city: 'Shanghai',
      model: 'MI 9',
      userId,
      query: map,
      existed: map,
    }).toString();
    pool.push({
      method: 'POST',
      path: '/device/nebula/update',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-mcube-client-key': clientKey },
      body,
    });
  }
  return pool;
}

/** One run of the driver against the server process `pid` (the driver also reads that process's CPU time over its counted window). */
function drive(url: string, pid: number, requests: Req[], seconds: number, rate?: number): Promise<{ run: RunResult; latencies: Float64Array }> {
  const id = randomBytes(4).toString('hex');
  const file = join(tmpdir(), `mcube-drive-${id}.json`);
  const latencyFile = join(tmpdir(), `mcube-drive-${id}.lat`);
  writeFileSync(file, JSON.stringify({ url, connections: CONNECTIONS, seconds, rate, requests, driver: DRIVER, serverPid: pid, latencyFile }));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/delivery-drive.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('exit', (code) => {
      rmSync(file, { force: true });
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) return reject(new Error(`driver failed (${code}): ${out}`));
      const raw = readFileSync(latencyFile);
      rmSync(latencyFile, { force: true });
      resolve({ run: JSON.parse(line) as RunResult, latencies: new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) });
    });
  });
}

/** Figures over several runs of one server: sums added up, latencies merged. */
function merge(runs: Array<{ run: RunResult; latencies: Float64Array }>): Drive {
  const sum = (f: (r: RunResult) => number) => runs.reduce((a, r) => a + f(r.run), 0);
  const lat = new Float64Array(runs.reduce((a, r) => a + r.latencies.length, 0));
  let at = 0;
  for (const r of runs) {
    lat.set(r.latencies, at);
    at += r.latencies.length;
  }
  lat.sort();
  const pct = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]! : NaN);
  const requests = sum((r) => r.requests);
  const windowMs = sum((r) => r.windowMs);
  return {
    rps: requests / sum((r) => r.seconds),
    p50: pct(0.5),
    p99: pct(0.99),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    driverCpu: (100 * sum((r) => r.driverCpuMs)) / windowMs,
    serverCpu: (100 * sum((r) => r.serverCpuMs)) / windowMs,
    serverUsPerReq: (1000 * sum((r) => r.serverCpuMs)) / Math.max(1, requests),
    machineBusy: (100 * sum((r) => r.machineBusy)) / Math.max(1, sum((r) => r.machineTotal)),
    machineSteal: (100 * sum((r) => r.machineSteal)) / Math.max(1, sum((r) => r.machineTotal)),
    lagP99: Math.max(...runs.map((r) => r.run.lagP99)),
  };
}

type Target = { url: string; pid: number };

/**
 * The device endpoint and the bare server under the same load, in
 * interleaved segments (device, bare, bare, device), so a change in the
 * machine's speed during the measurement (it is a shared VM) weighs on both
 * alike instead of on whichever ran second.
 */
async function compare(dev: Target, bare: Target, pool: Req[], seconds: number, rate?: number): Promise<{ dev: Drive; bare: Drive }> {
  const half = seconds / 2;
  const d: Array<{ run: RunResult; latencies: Float64Array }> = [];
  const b: Array<{ run: RunResult; latencies: Float64Array }> = [];
  d.push(await drive(dev.url, dev.pid, pool, half, rate));
  b.push(await drive(bare.url, bare.pid, pool, half, rate));
  b.push(await drive(bare.url, bare.pid, pool, half, rate));
  d.push(await drive(dev.url, dev.pid, pool, half, rate));
  return { dev: merge(d), bare: merge(b) };
}

function startBare(bytes: number): Promise<{ url: string; pid: number; stop(): void }> {
  const p = spawn(process.execPath, [join(ROOT, 'bench/lib/bare-server.mjs'), String(bytes)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr!.on('data', (c) => {
      err += c;
      const m = /listening on (http:\/\/[\d.:]+)/.exec(err);
      if (m) resolve({ url: m[1]!, pid: p.pid!, stop: () => p.kill('SIGTERM') });
    });
    p.on('exit', (code) => reject(new Error(`bare server exited ${code}: ${err}`)));
  });
}

/** Resident and peak resident memory of a process, in MB (Linux /proc). */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function post(url: string, r: Req): Promise<{ status: number; text: string }> {
  const res = await fetch(url + r.path, { method: r.method, headers: r.headers, body: r.body });
  return { status: res.status, text: await res.text() };
}

async function countAdmissions(env: Record<string, string>, dataDir: string, schema: string | null): Promise<number> {
  const k = schema
    ? knexFactory({ client: 'pg', connection: env.DATABASE_URL!, searchPath: [schema], pool: { min: 0, max: 1 } })
    : knexFactory({ client: 'better-sqlite3', connection: { filename: join(dataDir, 'mcube.sqlite') }, useNullAsDefault: true });
  try {
    const [row] = await k('grey_admissions').count({ n: '*' });
    return Number((row as { n: unknown }).n);
  } finally {
    await k.destroy();
  }
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);

async function runOne(dbName: 'sqlite' | 'postgres'): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mcube-bench-delivery-'));
  const schema = dbName === 'postgres' ? 'bench_' + randomBytes(4).toString('hex') : null;
  const env: Record<string, string> = {
    MCUBE_DATA_DIR: dataDir,
    MCUBE_PORT: '0',
    MCUBE_HOST: '127.0.0.1',
    MCUBE_MASTER_KEY: randomBytes(32).toString('base64'),
    MCUBE_BOOTSTRAP_ACCESS_KEY_ID: 'MCAKBENCH000000000002',
    MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET: 'benchSecretBenchSecret0123',
    MCUBE_BOOTSTRAP_CLIENT_KEY: 'mck_benchclientkey0000000000000001',
    MCUBE_RATE_LIMIT: '0',
    // high enough never to trip with a 1,000-device pool, so the limiter's cost is measured
    MCUBE_DEVICE_RATE_PER_MIN: '1000000000',
    MCUBE_LOG_LEVEL: process.env.MCUBE_LOG_LEVEL || 'warn',
    // the server process inherits this process's environment: say "no PostgreSQL" explicitly for the SQLite run
    DATABASE_URL: schema ? process.env.DATABASE_URL! : '',
    MCUBE_DB_SCHEMA: schema ?? '',
  };
  let server: ServerProcess | null = null;
  let bare: Awaited<ReturnType<typeof startBare>> | null = null;
  try {
    const config = loadConfig(env);
    console.log(`\n== ${dbName}: seeding ${BENCH_APPS} H5 apps x 10 versions x 3 tasks, 1,000,000 whitelist ids, 20 regexes ...`);
    const seeded = await seedDelivery(config);
    console.log(`   seeded ${seeded.tasks} tasks in ${(seeded.ms / 1000).toFixed(1)} s`);
    server = await startServerProcess(env, 60_000, SERVER_ARGS);
    if (!server.stderr().includes(`database: ${dbName === 'postgres' ? 'pg' : 'sqlite'}`)) throw new Error(`the server did not open ${dbName}:\n${server.stderr()}`);
    const pool = requestPool(seeded.clientKey);

    // cold start: the first request builds the snapshot (whitelist of a million ids included)
    let t = performance.now();
    const first = await post(server.url, pool[0]!);
    const coldMs = performance.now() - t;
    if (first.status !== 200) throw new Error(`device endpoint answered ${first.status}: ${first.text}`);
    console.log(`   first request (snapshot build) ${coldMs.toFixed(0)} ms`);

    // steady state: every device of the pool asks once (its time-window admissions are written now,
    // each a database transaction), then a warm-up for the JIT; the measured runs cost no database work.
    // The bare server's body is the mean size of these answers, one per device of the pool.
    t = performance.now();
    let bytes = 0;
    let entries = 0;
    for (let i = 0; i < pool.length; i += 10) {
      for (const r of await Promise.all(pool.slice(i, i + 10).map((q) => post(server!.url, q)))) {
        if (r.status !== 200) throw new Error(`device endpoint answered ${r.status}: ${r.text}`);
        bytes += Buffer.byteLength(r.text);
        entries += JSON.parse(r.text).data.length;
      }
    }
    const primeMs = performance.now() - t;
    const typical = Math.round(bytes / pool.length);
    if (entries === 0) throw new Error(`the data set delivered nothing; server log:\n${server.stdout().slice(-3000)}\n${server.stderr().slice(-3000)}`);
    const admitted = await countAdmissions(env, dataDir, schema);
    console.log(`   first check of all ${pool.length} devices (time-window admissions: ${admitted} written) ${(primeMs / 1000).toFixed(1)} s; answers ${typical} bytes, ${(entries / pool.length).toFixed(1)} entries on average`);
    bare = await startBare(typical);
    const dev: Target = { url: server.url, pid: server.proc.pid! };
    const ref: Target = { url: bare.url, pid: bare.pid };
    await drive(dev.url, dev.pid, pool, 3);
    await drive(ref.url, ref.pid, pool, 2);
    const memAfterWarm = memory(dev.pid);

    const peak = await compare(dev, ref, pool, SECONDS);
    const devPeak = peak.dev;
    const barePeak = peak.bare;
    const half = Math.max(1, Math.round(devPeak.rps / 2));
    const halfLoad = await compare(dev, ref, pool, SECONDS, half);
    const devHalf = halfLoad.dev;
    const bareHalf = halfLoad.bare;
    const devMem = memory(dev.pid);
    const bareMem = memory(bare.pid);

    // propagation: pause and resume an official task from outside the node (stamp + NOTIFY), poll the node
    const knex = schema
      ? knexFactory({ client: 'pg', connection: process.env.DATABASE_URL!, searchPath: [schema], pool: { min: 0, max: 1 } })
      : knexFactory({ client: 'better-sqlite3', connection: { filename: join(dataDir, 'mcube.sqlite') }, useNullAsDefault: true });
    const probeReq: Req = {
      ...pool[5]!,
      body: new URLSearchParams({ platform: 'android', client: '2.3.0', system: '12.1', userId: 'probe-user-x', query: JSON.stringify({ [seeded.probeH5Id]: { app_id: seeded.probeH5Id, version: '1.0.7' } }) }).toString(),
    };
    const hasV8 = async () => JSON.parse((await post(server!.url, probeReq)).text).data.some((e: { version: string }) => e.version === '1.0.8');
    const flip = async (status: number, want: boolean) => {
      await knex.transaction(async (trx) => {
        await trx('nebula_tasks').where({ id: seeded.probeTaskId }).update({ task_status: status });
        await bumpStamp(trx, schema ? 'pg' : 'sqlite', seeded.appId, seeded.workspaceId);
      });
      t = performance.now();
      while ((await hasV8()) !== want) {
        if (performance.now() - t > 30_000) throw new Error('change not visible within 30 s');
      }
      return performance.now() - t;
    };
    const before = await hasV8();
    const pauseMs = before ? await flip(3, false) : NaN;
    const resumeMs = before ? await flip(1, true) : NaN;

    // one id added to the million-id list, written as the whitelist actions write it (the store's own
    // statements): visible once the node caught the list up from its change log; then the same with
    // a change too big to log, which makes the node read the whole list again
    const [millionList] = await knex('whitelists').where({ app_id: seeded.appId, workspace_id: seeded.workspaceId, name: 'million' }).pluck('id');
    const userReq = (userId: string): Req => ({ ...pool[0]!, body: new URLSearchParams({ ...Object.fromEntries(new URLSearchParams(pool[0]!.body)), userId }).toString() });
    const hasV9 = async (userId: string) => JSON.parse((await post(server!.url, userReq(userId))).text).data.some((e: { version: string }) => e.version === '1.0.9');
    const freshUser = async (prefix: string) => {
      // one that gets 1.0.9 by no other way (percentage, time window)
      for (let k = 0; ; k++) if (!(await hasV9(`${prefix}-${k}`))) return `${prefix}-${k}`;
    };
    const addToList = async (ids: string[]) => {
      const cpu0 = cpuMs(server!.proc.pid!);
      await knex.transaction(async (trx) => {
        const added = await whitelistStore.insertValues(trx, schema ? 'pg' : 'sqlite', Number(millionList), ids);
        await whitelistStore.touch(trx, Number(millionList), Date.now(), added, ids.map((value) => ({ value, added: true })));
        await bumpStamp(trx, schema ? 'pg' : 'sqlite', seeded.appId, seeded.workspaceId);
      });
      t = performance.now();
      // meanwhile /healthz is asked back to back: its longest answer is the longest the node kept everyone waiting
      let visible = false;
      let longestWait = 0;
      let probeError: unknown = null;
      const probe = (async () => {
        while (!visible) {
          const t0 = performance.now();
          await fetch(server!.url + '/healthz').then((r) => r.arrayBuffer());
          longestWait = Math.max(longestWait, performance.now() - t0);
        }
      })().catch((err: unknown) => {
        probeError = err;
      });
      try {
        while (!(await hasV9(ids[0]!))) {
          if (performance.now() - t > 60_000) throw new Error('whitelist change not visible within 60 s');
        }
      } finally {
        visible = true;
        await probe;
      }
      if (probeError) throw new Error(`/healthz probe failed: ${String(probeError)}`);
      return { ms: performance.now() - t, cpuMs: cpuMs(server!.proc.pid!) - cpu0, longestWait };
    };
    const oneId = await addToList([await freshUser('wl-one')]);
    const bulkFirst = await freshUser('wl-bulk');
    const bulk = await addToList([bulkFirst, ...Array.from({ length: CHANGE_LOG_MAX }, (_, k) => `wl-bulk-filler-${k}`)]);
    await knex.destroy();

    const ratio = devPeak.rps / barePeak.rps;
    const row = (name: string, peak: Drive, halfLoad: Drive, mem: { rss: number; peak: number }) =>
      `   ${name.padEnd(16)} ${f1(peak.rps).padStart(9)} req/s   p50 ${f2(peak.p50)} ms  p99 ${f2(peak.p99)} ms   | at ${half} req/s: p50 ${f2(halfLoad.p50)} ms  p99 ${f2(halfLoad.p99)} ms   | RSS ${f1(mem.rss)} MB (peak ${f1(mem.peak)} MB)   non-2xx ${peak.non2xx + halfLoad.non2xx}, errors ${peak.errors + halfLoad.errors}`;
    const cpuRow = (name: string, peak: Drive, halfLoad: Drive) =>
      `   ${name.padEnd(16)} CPU at peak: server ${f1(peak.serverCpu)} % of a core (${f1(peak.serverUsPerReq)} us/request), driver ${f1(peak.driverCpu)} %, machine ${f1(peak.machineBusy)} % busy, ${f1(peak.machineSteal)} % stolen` +
      `   | at ${half} req/s: server ${f1(halfLoad.serverCpu)} % (${f1(halfLoad.serverUsPerReq)} us/request), driver ${f1(halfLoad.driverCpu)} %, ${f1(halfLoad.machineSteal)} % stolen, driver timer lag p99 ${f2(halfLoad.lagP99)} ms`;
    console.log(
      `   ${CONNECTIONS} connections, ${SECONDS} s per server and load (two runs of ${SECONDS / 2} s, device and bare interleaved), driver in its own process (${DRIVER === 'raw' ? 'bench/lib/delivery-drive.ts: raw keep-alive sockets, 1 s warm-up not counted per run, half load evenly paced' : 'autocannon'}), loopback; ` +
        `${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
    );
    console.log(row('device endpoint', devPeak, devHalf, devMem));
    console.log(row('bare node:http', barePeak, bareHalf, bareMem));
    console.log(cpuRow('device endpoint', devPeak, devHalf));
    console.log(cpuRow('bare node:http', barePeak, bareHalf));
    console.log(`   RSS of the server after warm-up: ${f1(memAfterWarm.rss)} MB`);
    const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');
    console.log(`   throughput ratio device/bare: ${f2(ratio)} (target >= ${TARGET.ratio}: ${verdict(ratio >= TARGET.ratio)})`);
    console.log(`   device p99 at half load: ${f2(devHalf.p99)} ms (target <= ${TARGET.p99Ms} ms: ${verdict(devHalf.p99 <= TARGET.p99Ms)})`);
    console.log(`   device server RSS: ${f1(devMem.rss)} MB, peak ${f1(devMem.peak)} MB (target <= ${TARGET.rssMb} MB: ${verdict(devMem.peak <= TARGET.rssMb)})`);
    console.log(
      `   propagation (write + stamp from outside the node -> visible on the node): pause ${f1(pauseMs)} ms, resume ${f1(resumeMs)} ms ` +
        `(${schema ? 'LISTEN/NOTIFY' : 'stamp poll every ' + config.delivery.pollIntervalMs + ' ms'}; target < ${TARGET.propagationMs} ms: ${verdict(Math.max(pauseMs, resumeMs) < TARGET.propagationMs)})`,
    );
    console.log(
      `   whitelist change -> visible on the node: one id added to the million-id list ${f1(oneId.ms)} ms (node CPU ${f1(oneId.cpuMs)} ms, from the change log); ` +
        `${CHANGE_LOG_MAX + 1} ids, a change too big to log: ${f1(bulk.ms)} ms (node CPU ${f1(bulk.cpuMs)} ms, the whole list read again); ` +
        `longest /healthz answer meanwhile ${f1(oneId.longestWait)} ms and ${f1(bulk.longestWait)} ms`,
    );
  } finally {
    bare?.stop();
    if (SERVER_STDOUT && server) writeFileSync(SERVER_STDOUT, server.stdout());
    await server?.stop();
    if (schema) {
      const k = knexFactory({ client: 'pg', connection: process.env.DATABASE_URL!, pool: { min: 0, max: 1 } });
      await k.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).catch(() => {});
      await k.destroy();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// the server runs as production runs it: the built JavaScript, no TypeScript loader
await buildServer();
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
if (!only || only === 'sqlite') await runOne('sqlite');
if (process.env.DATABASE_URL && (!only || only === 'postgres')) await runOne('postgres');
