// Device endpoint versus a bare node:http server, on loopback, with the
// delivery data set of the brief: 100 H5 apps x 10 versions x 3 tasks, a
// normal whitelist of 1,000,000 user ids, a regex whitelist of 20
// expressions and advanced rules. For each database (SQLite; PostgreSQL too
// when DATABASE_URL is set): seed a fresh database, start the server process
// and a bare server answering a fixed body of the typical answer's size,
// drive both from a separate process with autocannon (peak, then half of the
// device endpoint's peak rate), and print throughput, p50/p99, RSS, the
// ratios against the targets and the change propagation time.
// Usage: npx tsx bench/delivery.ts [--seconds 10] [--connections 50] [--only sqlite|postgres]   (DATABASE_URL=postgres://... for PostgreSQL too)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { loadConfig } from '../packages/server/src/config.js';
import { bumpStamp } from '../packages/server/src/db/stamps.js';
import { ROOT, startServerProcess, type ServerProcess } from '../test/helpers/process.js';
import { BENCH_APPS, h5IdOf, regexMatchingId, seedDelivery, whitelistedId } from './lib/delivery-seed.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const SECONDS = arg('seconds', 10);
const CONNECTIONS = arg('connections', 50);
const TARGET = { ratio: 0.7, p99Ms: 5, rssMb: 250, propagationMs: 1000 };

interface Drive {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  autocannonP99: number;
  non2xx: number;
  errors: number;
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

function drive(url: string, requests: Req[], seconds: number, rate?: number): Promise<Drive> {
  const file = join(tmpdir(), `mcube-drive-${randomBytes(4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ url, connections: CONNECTIONS, seconds, rate, requests }));
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/delivery-drive.ts'), file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('exit', (code) => {
      rmSync(file, { force: true });
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`driver failed (${code}): ${out}`));
      else resolve(JSON.parse(line) as Drive);
    });
  });
}

function startBare(bytes: number): Promise<{ url: string; pid: number; stop(): void }> {
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/lib/bare-server.ts'), String(bytes)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
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
    MCUBE_LOG_LEVEL: 'warn',
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
    server = await startServerProcess(env, 60_000);
    if (!server.stderr().includes(`database: ${dbName === 'postgres' ? 'pg' : 'sqlite'}`)) throw new Error(`the server did not open ${dbName}:\n${server.stderr()}`);
    const pool = requestPool(seeded.clientKey);

    // cold start: the first request builds the snapshot (whitelist of a million ids included)
    let t = performance.now();
    const first = await post(server.url, pool[0]!);
    const coldMs = performance.now() - t;
    if (first.status !== 200) throw new Error(`device endpoint answered ${first.status}: ${first.text}`);
    let bytes = 0;
    let entries = 0;
    for (let i = 0; i < 100; i++) {
      const r = await post(server.url, pool[i]!);
      bytes += Buffer.byteLength(r.text);
      entries += JSON.parse(r.text).data.length;
    }
    const typical = Math.round(bytes / 100);
    if (entries === 0) throw new Error(`the data set delivered nothing; server log:\n${server.stdout().slice(-3000)}\n${server.stderr().slice(-3000)}`);
    console.log(`   first request (snapshot build) ${coldMs.toFixed(0)} ms; typical answer ${typical} bytes, ${(entries / 100).toFixed(1)} entries`);
    bare = await startBare(typical);

    // steady state: every device of the pool asks once (its time-window admissions are written now,
    // each a database transaction), then a warm-up for the JIT; the measured runs cost no database work
    t = performance.now();
    for (let i = 0; i < pool.length; i += 10) await Promise.all(pool.slice(i, i + 10).map((r) => post(server!.url, r)));
    const primeMs = performance.now() - t;
    const admitted = await countAdmissions(env, dataDir, schema);
    console.log(`   first check of all ${pool.length} devices (time-window admissions: ${admitted} written) ${(primeMs / 1000).toFixed(1)} s`);
    await drive(server.url, pool, 3);
    await drive(bare.url, pool, 2);
    const memAfterWarm = memory(server.proc.pid!);

    const devPeak = await drive(server.url, pool, SECONDS);
    const barePeak = await drive(bare.url, pool, SECONDS);
    const half = Math.max(1, Math.round(devPeak.rps / 2));
    const devHalf = await drive(server.url, pool, SECONDS, half);
    const bareHalf = await drive(bare.url, pool, SECONDS, half);
    const devMem = memory(server.proc.pid!);
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
    await knex.destroy();

    const ratio = devPeak.rps / barePeak.rps;
    const row = (name: string, peak: Drive, halfLoad: Drive, mem: { rss: number; peak: number }) =>
      `   ${name.padEnd(16)} ${f1(peak.rps).padStart(9)} req/s   p50 ${f2(peak.p50)} ms  p99 ${f2(peak.p99)} ms   | at ${half} req/s: p50 ${f2(halfLoad.p50)} ms  p99 ${f2(halfLoad.p99)} ms   | RSS ${f1(mem.rss)} MB (peak ${f1(mem.peak)} MB)   non-2xx ${peak.non2xx + halfLoad.non2xx}, errors ${peak.errors + halfLoad.errors}`;
    console.log(`   ${CONNECTIONS} connections, ${SECONDS} s per run, driver in its own process (autocannon), loopback; ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    console.log(row('device endpoint', devPeak, devHalf, devMem));
    console.log(row('bare node:http', barePeak, bareHalf, bareMem));
    console.log(`   RSS of the server after warm-up: ${f1(memAfterWarm.rss)} MB`);
    const verdict = (ok: boolean) => (ok ? 'meets' : 'MISSES');
    console.log(`   throughput ratio device/bare: ${f2(ratio)} (target >= ${TARGET.ratio}: ${verdict(ratio >= TARGET.ratio)})`);
    console.log(`   device p99 at half load: ${f2(devHalf.p99)} ms (target <= ${TARGET.p99Ms} ms: ${verdict(devHalf.p99 <= TARGET.p99Ms)})`);
    console.log(`   device server RSS: ${f1(devMem.rss)} MB, peak ${f1(devMem.peak)} MB (target <= ${TARGET.rssMb} MB: ${verdict(devMem.peak <= TARGET.rssMb)})`);
    console.log(
      `   propagation (write + stamp from outside the node -> visible on the node): pause ${f1(pauseMs)} ms, resume ${f1(resumeMs)} ms ` +
        `(${schema ? 'LISTEN/NOTIFY' : 'stamp poll every ' + config.delivery.pollIntervalMs + ' ms'}; target < ${TARGET.propagationMs} ms: ${verdict(Math.max(pauseMs, resumeMs) < TARGET.propagationMs)})`,
    );
  } finally {
    bare?.stop();
    await server?.stop();
    if (schema) {
      const k = knexFactory({ client: 'pg', connection: process.env.DATABASE_URL!, pool: { min: 0, max: 1 } });
      await k.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).catch(() => {});
      await k.destroy();
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
if (!only || only === 'sqlite') await runOne('sqlite');
if (process.env.DATABASE_URL && (!only || only === 'postgres')) await runOne('postgres');
