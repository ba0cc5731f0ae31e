import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/**
 * A small closed-loop HTTP/1.1 load driver over keep-alive sockets. Unlike
 * autocannon's per-request hook it builds each request as one string, so a
 * request that must be unique (a fresh signature nonce) costs the client a few
 * microseconds and the figures measure the server, not the driver.
 */
export function runLoad(opts: { host: string; port: number; connections: number; seconds: number; makeRequest: () => string }): Promise<LoadResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const deadline = performance.now() + opts.seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const sock: Socket = connect(opts.port, opts.host);
      sock.setNoDelay(true);
      let buf = Buffer.alloc(0);
      let started = 0;
      const next = () => {
        if (performance.now() >= deadline) {
          sock.end();
          resolve();
          return;
        }
        started = performance.now();
        sock.write(opts.makeRequest());
      };
      sock.on('connect', next);
      sock.on('error', () => {
        errors++;
        resolve();
      });
      sock.on('data', (chunk) => {
        buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.subarray(0, end).toString('latin1');
          const m = /content-length:\s*(\d+)/i.exec(head);
          let len = m ? Number(m[1]) : 0;
          if (!m && /transfer-encoding:\s*chunked/i.test(head)) {
            const term = buf.indexOf('0\r\n\r\n', end + 4);
            if (term < 0) return;
            len = term + 5 - (end + 4);
          }
          if (buf.length < end + 4 + len) return;
          const status = Number(head.slice(9, 12));
          if (status < 200 || status > 299) non2xx++;
          latencies.push(performance.now() - started);
          buf = buf.subarray(end + 4 + len);
          next();
        }
      });
    });
  const t0 = performance.now();
  return Promise.all(Array.from({ length: opts.connections }, one)).then(() => {
    const elapsed = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! : 0);
    return { requests: latencies.length, rps: latencies.length / elapsed, p50: pct(0.5), p99: pct(0.99), non2xx, errors };
  });
}
