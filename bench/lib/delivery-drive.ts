// Load driver run as its own process (so it does not share the event loop of
// the server under test). Reads its job from the JSON file in argv[2] and
// prints one JSON result line.
//
// Keep-alive connections over raw sockets, one request in flight per
// connection, cycling a pool of requests prepared as bytes once. It is cheap
// on purpose: on this 2-core machine autocannon (a JS HTTP parser per
// response) needs a whole core at ~12,000 req/s, so it, not the server,
// bounded the bare server's figure (and flattered the ratio). Responses must
// carry Content-Length (both servers under test send it); anything else
// counts as an error.
//
// Without `rate`: closed loop, each connection sends its next request as soon
// as the answer arrived (peak throughput); latency = send to last byte.
// With `rate` (requests per second over all connections): open loop, evenly
// paced; connection c is due at start + (k * connections + c) / rate, so the
// requests of all connections interleave evenly. (autocannon's overallRate
// sends each connection's whole quota for a second in a burst at the start
// of the second, so its "half load" was peak load for part of every second.)
// Latency is counted from the moment a request was due (its intended send
// time), as wrk2 does: a request that waits for its connection's previous
// answer, however many slots back, counts all of that wait, so a server stall
// shows in the percentiles instead of hiding in fewer requests sent
// (coordinated omission). That includes the driver's own timer granularity
// (it checks every millisecond); `lagP99` reports that part: how late the
// driver noticed due requests.
//
// The first `warmup` seconds (default 1) are driven but not counted: a fresh
// driver process stalls for milliseconds while its own code is compiled,
// which showed up as the slowest 1 % of a paced run.
//
// `driver: 'autocannon'` runs the same job through autocannon instead (the
// bench's earlier driver), to compare figures with earlier runs.
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpuMs } from './proc.js';

interface Job {
  url: string;
  connections: number;
  seconds: number;
  /** requests per second over all connections; absent = as fast as possible */
  rate?: number;
  /** seconds driven before counting starts (default 1) */
  warmup?: number;
  requests: Array<{ method: string; path: string; headers: Record<string, string>; body?: string }>;
  driver?: 'raw' | 'autocannon';
  /** the server process: its CPU time is read at the start and the end of the counted window */
  serverPid?: number;
  /** where to write the latencies of the answered requests (Float64, ms), for merging runs */
  latencyFile?: string;
}

/** Busy, stolen (by the hypervisor) and total jiffies of the whole machine. */
function machineTicks(): { busy: number; steal: number; total: number } {
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = t.reduce((a, b) => a + b, 0);
  return { busy: total - t[3]! - t[4]! - t[7]!, steal: t[7]!, total };
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
if (job.driver === 'autocannon') await viaAutocannon(job);
const target = new URL(job.url);
const port = Number(target.port);
const host = target.hostname;
const rate = job.rate ?? 0;
const interval = rate ? (job.connections * 1000) / rate : 0;

const pool: Buffer[] = job.requests.map((r) => {
  const body = Buffer.from(r.body ?? '');
  let head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${target.host}\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  if (r.body !== undefined) head += `content-length: ${body.length}\r\n`;
  return Buffer.concat([Buffer.from(head + '\r\n'), body]);
});

const CRLF2 = Buffer.from('\r\n\r\n');
let latencies: Float64Array = new Float64Array(1 << 16);
let nLat = 0;
let lags: Float64Array = new Float64Array(1 << 16);
let nLag = 0;
let non2xx = 0;
let errors = 0;
let next = 0;
let running = true;
/** counting window: requests sent (or due) from `from`, answered by `until` */
let from = Infinity;
let until = Infinity;

const push = (a: Float64Array, n: number, v: number): Float64Array => {
  if (n === a.length) {
    const bigger = new Float64Array(a.length * 2);
    bigger.set(a);
    a = bigger;
  }
  a[n] = v;
  return a;
};

class Conn {
  sock!: Socket;
  busy = false;
  /** when the request in flight was sent (closed loop) or due (paced) */
  since = 0;
  /** paced: when this connection's next request is due */
  dueAt = 0;
  /** paced: due times of requests that came due while the connection was busy, oldest first */
  waiting: number[] = [];
  private buf: Buffer | null = null;
  private need = -1;
  private status = 0;

  constructor() {
    this.open();
  }

  open() {
    this.sock = connect({ port, host, noDelay: true });
    this.sock.on('data', (c: Buffer) => this.onData(c));
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      if (this.busy && running) errors++;
      this.busy = false;
      this.buf = null;
      if (running) this.open();
    });
  }

  send(since: number) {
    this.busy = true;
    this.since = since;
    this.need = -1;
    this.sock.write(pool[next++ % pool.length]!);
  }

  private onData(c: Buffer) {
    const buf = this.buf ? Buffer.concat([this.buf, c]) : c;
    if (this.need < 0) {
      const end = buf.indexOf(CRLF2);
      if (end < 0) {
        this.buf = buf;
        return;
      }
      const head = buf.toString('latin1', 0, end).toLowerCase();
      this.status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/.exec(head);
      if (!m) {
        errors++;
        this.sock.destroy();
        return;
      }
      this.need = end + 4 + Number(m[1]);
    }
    if (buf.length < this.need) {
      this.buf = buf;
      return;
    }
    const now = performance.now();
    this.buf = null;
    this.busy = false;
    // paced: every request due in the window counts, whenever its answer comes (the slowest come last)
    if (this.since >= from && (rate ? this.since < until : now <= until)) {
      if (this.status >= 200 && this.status < 300) latencies = push(latencies, nLat++, now - this.since);
      else non2xx++;
    }
    if (!running) return;
    if (!rate) this.send(now);
    else if (this.waiting.length) this.send(this.waiting.shift()!);
  }
}

const conns = Array.from({ length: job.connections }, () => new Conn());
await new Promise((r) => setTimeout(r, 100)); // connected
const t0 = performance.now();
from = t0 + (job.warmup ?? 1) * 1000;
until = from + job.seconds * 1000;
let cpu0 = process.cpuUsage();
let server0 = cpuMs(job.serverPid);
let machine0 = machineTicks();
setTimeout(() => {
  cpu0 = process.cpuUsage();
  server0 = cpuMs(job.serverPid);
  machine0 = machineTicks();
}, from - t0);

if (!rate) {
  for (const c of conns) c.send(performance.now());
  await new Promise((r) => setTimeout(r, until - t0));
} else {
  const gap = 1000 / rate;
  conns.forEach((c, i) => (c.dueAt = t0 + i * gap));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now > until) {
        clearInterval(timer);
        // let the requests due in the window finish (up to 2 s more), so the slowest are counted too
        const drainUntil = now + 2000;
        const drain = setInterval(() => {
          if (performance.now() > drainUntil || conns.every((c) => !c.busy && c.waiting.length === 0)) {
            clearInterval(drain);
            resolve();
          }
        }, 1);
        return;
      }
      for (const c of conns) {
        // every slot that came due since the last tick; a busy connection sends them, in order, on its answers
        while (c.dueAt <= now) {
          if (c.dueAt >= from) lags = push(lags, nLag++, now - c.dueAt);
          if (c.busy) c.waiting.push(c.dueAt);
          else c.send(c.dueAt);
          c.dueAt += interval;
        }
      }
    }, 1);
  });
}
running = false;
const cpu = process.cpuUsage(cpu0);
const serverCpu = cpuMs(job.serverPid) - server0;
const machine = machineTicks();
const wall = performance.now() - from;
for (const c of conns) c.sock.destroy();

report({
  latencies: latencies.subarray(0, nLat),
  non2xx,
  errors,
  seconds: job.seconds,
  windowMs: wall,
  driverCpuMs: (cpu.user + cpu.system) / 1000,
  serverCpuMs: serverCpu,
  machineBusy: machine.busy - machine0.busy,
  machineSteal: machine.steal - machine0.steal,
  machineTotal: machine.total - machine0.total,
  lagP99: rate ? pct(lags.subarray(0, nLag).sort(), 0.99) : 0,
});

function pct(a: Float64Array, p: number): number {
  return a.length ? a[Math.min(a.length - 1, Math.floor(a.length * p))]! : NaN;
}

/**
 * Prints the result line (sums that can be added up over several runs, and
 * the figures of this run), and writes the latencies (Float64, ms) to the
 * job's latencyFile when it has one, so runs can be merged exactly.
 */
function report(r: {
  latencies: Float64Array;
  non2xx: number;
  errors: number;
  seconds: number;
  windowMs: number;
  driverCpuMs: number;
  serverCpuMs: number;
  machineBusy: number;
  machineSteal: number;
  machineTotal: number;
  lagP99: number;
}): never {
  const lat = r.latencies.sort();
  if (job.latencyFile) writeFileSync(job.latencyFile, new Uint8Array(lat.buffer, lat.byteOffset, lat.byteLength));
  const requests = lat.length + r.non2xx;
  process.stdout.write(
    JSON.stringify({
      requests,
      non2xx: r.non2xx,
      errors: r.errors,
      seconds: r.seconds,
      windowMs: r.windowMs,
      driverCpuMs: r.driverCpuMs,
      serverCpuMs: r.serverCpuMs,
      machineBusy: r.machineBusy,
      machineSteal: r.machineSteal,
      machineTotal: r.machineTotal,
      lagP99: r.lagP99,
      rps: requests / r.seconds,
      p50: pct(lat, 0.5),
      p99: pct(lat, 0.99),
      /** % of one core over the counted window */
      driverCpu: (100 * r.driverCpuMs) / r.windowMs,
      serverCpu: (100 * r.serverCpuMs) / r.windowMs,
      serverUsPerReq: (1000 * r.serverCpuMs) / Math.max(1, requests),
    }) + '\n',
  );
  process.exit(0);
}

/** The job through autocannon (latency per response as autocannon reports it, no warm-up exclusion). */
async function viaAutocannon(j: Job): Promise<never> {
  const { default: autocannon } = await import('autocannon');
  const lat: number[] = [];
  let bad = 0;
  const instance = autocannon({ url: j.url, connections: j.connections, duration: j.seconds, ...(j.rate ? { overallRate: j.rate } : {}), requests: j.requests });
  instance.on('response', (_c, status, _bytes, ms) => {
    if (status >= 200 && status < 300) lat.push(ms);
    else bad++;
  });
  const c0 = process.cpuUsage();
  const s0 = cpuMs(j.serverPid);
  const m0 = machineTicks();
  const t = performance.now();
  const r = await instance;
  const c = process.cpuUsage(c0);
  const m1 = machineTicks();
  return report({
    latencies: Float64Array.from(lat),
    non2xx: bad,
    errors: r.errors + r.timeouts,
    seconds: r.duration > 0 ? r.duration : j.seconds,
    windowMs: performance.now() - t,
    driverCpuMs: (c.user + c.system) / 1000,
    serverCpuMs: cpuMs(j.serverPid) - s0,
    machineBusy: m1.busy - m0.busy,
    machineSteal: m1.steal - m0.steal,
    machineTotal: m1.total - m0.total,
    lagP99: 0,
  });
}