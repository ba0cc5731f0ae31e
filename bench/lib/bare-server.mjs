// A bare node:http server answering every request with one fixed JSON body of
// the given size (after reading the request body, as the device endpoint
// does), sent the way the device endpoint sends its answer: status and
// headers by writeHead, the body as one string by end().
// With a second argument it first keeps the CPU busy for that many
// microseconds per request, a stand-in for a handler's own work.
// Plain JavaScript, run without a loader, as the built server is.
// Usage: node bench/lib/bare-server.mjs <bytes> [spin-µs]
import { createServer } from 'node:http';

const size = Math.max(64, Number(process.argv[2] ?? 1024));
const head = '{"resultCode":100,"state":"success","pad":"';
const tail = '"}';
const body = head + 'x'.repeat(size - head.length - tail.length) + tail;
const length = Buffer.byteLength(body);
const spinNs = BigInt(Math.round(Number(process.argv[3] ?? 0) * 1000));

const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    if (spinNs > 0n) {
      const until = process.hrtime.bigint() + spinNs;
      while (process.hrtime.bigint() < until);
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length, 'cache-control': 'no-store' });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stderr.write(`bare listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
