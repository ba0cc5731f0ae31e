// Authenticated QueryMcubeVhost versus /healthz on one server process, driven
// from this process (bench/lib/load.ts, keep-alive sockets, a fresh nonce per
// request). Prints both throughputs, the server's CPU time per request, and
// the ratio.
// Usage: npx tsx bench/auth.ts [--seconds 10] [--connections 20] [--spins 10,30] [--cpu-prof dir]   (DATABASE_URL=... for PostgreSQL)
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { spawn, type ChildProcess } from 'node:child_process';
import { buildServer } from '../packages/server/scripts/build.mjs';
import { ROOT, startServerProcess } from '../test/helpers/process.js';
import { runLoad, type LoadResult } from './lib/load.js';
import { cpuMs } from './lib/proc.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg('seconds', 10);
const connections = arg('connections', 20);
// --spins 10,30: also measure the bare server spinning that many µs per request ("" for none)
const spinsIdx = process.argv.indexOf('--spins');
const spins = (spinsIdx > 0 ? process.argv[spinsIdx + 1]! : '10,30').split(',').filter(Boolean).map(Number);

const dataDir = mkdtempSync(join(tmpdir(), 'mcube-bench-'));
const creds = { id: 'MCAKBENCH000000000001', secret: 'benchSecretBenchSecret0123' };
const env: Record<string, string> = {
  MCUBE_DATA_DIR: dataDir,
  MCUBE_PORT: '0',
  MCUBE_MASTER_KEY: randomBytes(32).toString('base64'),
  MCUBE_BOOTSTRAP_ACCESS_KEY_ID: creds.id,
  MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET: creds.secret,
  // counted like in production (one upsert per key and batch), set high enough never to refuse
  MCUBE_RATE_LIMIT: '1000000',
  MCUBE_LOG_LEVEL: 'info',
};
if (process.env.DATABASE_URL) {
  env.DATABASE_URL = process.env.DATABASE_URL;
  env.MCUBE_DB_SCHEMA = 'bench_' + randomBytes(4).toString('hex');
}
// --cpu-prof <dir>: the server writes a V8 CPU profile there when it stops
const profIdx = process.argv.indexOf('--cpu-prof');
const nodeArgs = profIdx > 0 ? ['--cpu-prof', `--cpu-prof-dir=${process.argv[profIdx + 1]}`] : [];
// the server runs as production runs it: the built JavaScript, no TypeScript loader
await buildServer();
const server = await startServerProcess(env, 30_000, nodeArgs);

const body = 'AppId=ALIPUB0000001&WorkspaceId=default';
const bodyHash = createHash('sha256').update(body).digest('hex');
function signed(): Record<string, string> {
  const h: Record<string, string> = {
    host: server.host,
    'x-acs-action': 'QueryMcubeVhost',
    'x-acs-version': '2020-10-28',
    'x-acs-date': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    'x-acs-signature-nonce': randomBytes(16).toString('hex'),
    'content-type': 'application/x-www-form-urlencoded',
    'x-acs-content-sha256': bodyHash,
  };
  const names = Object.keys(h).sort();
  const canonical = ['POST', '/', '', names.map((n) => `${n}:${h[n]}\n`).join(''), names.join(';'), bodyHash].join('\n');
  const sig = createHmac('sha256', creds.secret).update('ACS3-HMAC-SHA256\n' + createHash('sha256').update(canonical).digest('hex')).digest('hex');
  h.authorization = `ACS3-HMAC-SHA256 Credential=${creds.id},SignedHeaders=${names.join(';')},Signature=${sig}`;
  return h;
}

const [hostname, portText] = server.host.split(':');
const port = Number(portText);
const healthReq = `GET /healthz HTTP/1.1\r\nhost: ${server.host}\r\n\r\n`;
function authReq(): string {
  const h = signed();
  return `POST / HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
}

async function run(
  title: string,
  makeRequest: () => string,
  secs = seconds,
  target: { port: number; pid: number } = { port, pid: server.proc.pid! },
): Promise<LoadResult & { cpuUs: number }> {
  const cpu0 = cpuMs(target.pid) / 1000;
  const r = await runLoad({ host: hostname!, port: target.port, connections, seconds: secs, makeRequest });
  const cpuUs = ((cpuMs(target.pid) / 1000 - cpu0) * 1e6) / Math.max(1, r.requests);
  console.log(
    `${title.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  server CPU ${cpuUs.toFixed(0)} µs/req  non-2xx ${r.non2xx}  errors ${r.errors}`,
  );
  return { ...r, cpuUs };
}

// Requests are signed before the clock starts (each with its own nonce), as the
// health check's request is a constant: the driver shares this machine's cores
// with the server, and signing inline would bill the client's work to the server.
function presigned(n: number): () => string {
  const pool = Array.from({ length: n }, authReq);
  let i = 0;
  return () => (i < pool.length ? pool[i++]! : authReq());
}

function startBare(bytes: number, spinUs = 0): Promise<{ port: number; pid: number; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [join(ROOT, 'bench/lib/bare-server.mjs'), String(bytes), String(spinUs)], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (c) => {
      err += c;
      const m = /listening on http:\/\/[\d.]+:(\d+)/.exec(err);
      if (m) resolve({ port: Number(m[1]), pid: proc.pid!, proc });
    });
    proc.on('exit', (code) => reject(new Error(`bare server exited with ${code}: ${err}`)));
  });
}

try {
  console.log(`one server process (${env.DATABASE_URL ? 'PostgreSQL' : 'SQLite'}), ${connections} connections, ${seconds} s each, loopback`);
  await run('warm-up', authReq, 2);
  const health = await run('GET /healthz', () => healthReq);
  const auth = await run('QueryMcubeVhost (ACS3, signed)', presigned(seconds * 15_000));
  const ratio = health.rps / auth.rps;
  console.log(`cost of an authenticated action relative to the health check: ${ratio.toFixed(2)}x by throughput (target: at most 2x), ${(auth.cpuUs / health.cpuUs).toFixed(2)}x by server CPU per request`);
  // The HTTP floor: the same signed requests (headers and body) to a bare node:http handler that
  // reads the body and answers a fixed JSON body of the same size, with no parsing, signature or database.
  const answerBytes = Buffer.byteLength(JSON.stringify({ RequestId: '00000000-0000-0000-0000-000000000000', ResultCode: 'OK', ResultMessage: '', QueryVhostResult: { Data: '', Success: true, ResultMsg: '' } }));
  const bare = await startBare(answerBytes);
  try {
    const floor = await run('same requests, bare node:http', presigned(seconds * 15_000), seconds, bare);
    console.log(`HTTP floor of such a request relative to the health check: ${(health.rps / floor.rps).toFixed(2)}x by throughput, ${(floor.cpuUs / health.cpuUs).toFixed(2)}x by CPU per request`);
  } finally {
    bare.proc.kill('SIGTERM');
  }
  // What the target leaves for a handler's own work on this machine: the bare server again, made to
  // spin a fixed time per request. A server that has to wait on a driver that sleeps pays for waking
  // it on every answer, so its overhead grows as it slows down, and the ratio grows faster than the work.
  for (const spinUs of spins) {
    const spinning = await startBare(answerBytes, spinUs);
    try {
      const r = await run(`same, bare spinning ${spinUs} µs/request`, presigned(seconds * 15_000), seconds, spinning);
      console.log(`  ${(health.rps / r.rps).toFixed(2)}x the health check by throughput, ${(r.cpuUs / health.cpuUs).toFixed(2)}x by CPU per request (${(r.cpuUs - spinUs).toFixed(0)} µs besides the spin)`);
    } finally {
      spinning.proc.kill('SIGTERM');
    }
  }
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  if (env.DATABASE_URL) {
    const k = knexFactory({ client: 'pg', connection: env.DATABASE_URL });
    await k.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [env.MCUBE_DB_SCHEMA!]).catch(() => {});
    await k.destroy();
  }
}
