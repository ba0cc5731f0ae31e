import type { IncomingMessage } from 'node:http';
import { Pop } from './errors.js';

// Stalled bodies are found by one sweep over the reads in progress rather than
// a timer per request: arming and clearing a timer is a measurable share of a
// small signed call. Deadlines are kept to within SWEEP_MS.
const SWEEP_MS = 100;
const reading = new Set<{ deadline: number; expire: () => void }>();
let sweeper: NodeJS.Timeout | undefined;

function sweep() {
  const t = Date.now();
  for (const r of reading) if (r.deadline <= t) r.expire();
  if (reading.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** Reads a request body up to `max` bytes; a body that stalls past `timeoutMs` is refused. */
export function readBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      req.resume();
      reject(Pop.tooLarge(max));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const watch = { deadline: Date.now() + timeoutMs, expire: () => finish(Pop.timeout()) };
    const finish = (err: Error | null, buf?: Buffer) => {
      if (!reading.delete(watch)) return;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve(buf!);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        finish(Pop.tooLarge(max));
        req.resume();
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    const onError = (e: Error) => finish(e);
    const onAborted = () => finish(Object.assign(new Error('client aborted'), { aborted: true }));
    reading.add(watch);
    if (!sweeper) {
      sweeper = setInterval(sweep, SWEEP_MS);
      sweeper.unref();
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
