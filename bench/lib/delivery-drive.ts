// Load driver run as its own process (so it does not share the event loop of
// the server under test): autocannon over keep-alive connections, cycling a
// pool of prepared requests. Reads its job from the JSON file in argv[2] and
// prints one JSON result line.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

interface Job {
  url: string;
  connections: number;
  seconds: number;
  /** requests per second over all connections; absent = as fast as possible */
  rate?: number;
  requests: Array<{ method: string; path: string; headers: Record<string, string>; body?: string }>;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const latencies: number[] = [];
let non2xx = 0;
const instance = autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.seconds,
  ...(job.rate ? { overallRate: job.rate } : {}),
  requests: job.requests,
});
instance.on('response', (_c, status, _bytes, ms) => {
  if (status >= 200 && status < 300) latencies.push(ms);
  else non2xx++;
});
const r = await instance;
latencies.sort((a, b) => a - b);
const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! : NaN);
process.stdout.write(
  JSON.stringify({
    requests: latencies.length + non2xx,
    rps: (latencies.length + non2xx) / (r.duration > 0 ? r.duration : job.seconds),
    p50: pct(0.5),
    p99: pct(0.99),
    autocannonP99: r.latency.p99,
    non2xx,
    errors: r.errors + r.timeouts,
  }) + '\n',
);
