import type { IncomingMessage } from 'node:http';
import { Pop } from './errors.js';

// Stalled bodies are found by one sweep over the reads in progress rather than
// a timer per request: arming and clearing a timer is a measurable share of a
// small signed call. Deadlines are kept to within SWEEP_MS.
const SWEEP_MS = 100;
const reading = new Set<{ readonly deadline: number; finish(err: Error | null): void }>();

function watch(entry: { readonly deadline: number; finish(err: Error | null): void }): void {
  reading.add(entry);
  if (!sweeper) {
    sweeper = setInterval(sweep, SWEEP_MS);
    sweeper.unref();
  }
}
let sweeper: NodeJS.Timeout | undefined;

function sweep() {
  const t = Date.now();
  for (const r of reading) if (r.deadline <= t) r.finish(Pop.timeout());
  if (reading.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

// A class with bound methods rather than closures: this runs once per RPC call,
// and each named closure costs a property definition under the TypeScript loader.
class BodyRead {
  readonly deadline: number;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly onData = this.data.bind(this);
  private readonly onEnd = this.end.bind(this);
  private readonly onError = this.finish.bind(this);
  private readonly onAborted = this.aborted.bind(this);

  constructor(
    private readonly req: IncomingMessage,
    private readonly max: number,
    timeoutMs: number,
    private readonly resolve: (b: Buffer) => void,
    private readonly reject: (e: Error) => void,
  ) {
    this.deadline = Date.now() + timeoutMs;
    watch(this);
    req.on('data', this.onData);
    req.on('end', this.onEnd);
    req.on('error', this.onError);
    req.on('aborted', this.onAborted);
  }

  private data(c: Buffer) {
    this.size += c.length;
    if (this.size > this.max) {
      this.finish(Pop.tooLarge(this.max));
      this.req.resume();
      return;
    }
    this.chunks.push(c);
  }

  private end() {
    this.finish(null, this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size));
  }

  private aborted() {
    this.finish(Object.assign(new Error('client aborted'), { aborted: true }));
  }

  finish(err: Error | null, buf?: Buffer) {
    if (!reading.delete(this)) return;
    const { req } = this;
    req.off('data', this.onData);
    req.off('end', this.onEnd);
    req.off('error', this.onError);
    req.off('aborted', this.onAborted);
    if (err) this.reject(err);
    else this.resolve(buf!);
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
    new BodyRead(req, max, timeoutMs, resolve, reject);
  });
}

const BOUND_GRACE_MS = 1000;

/**
 * For a reader with listeners of its own (the device endpoints): `onLate` runs once when done() has not been
 * called within `timeoutMs`. Nothing else is registered, so a body costs one entry in the sweep.
 */
export function bodyDeadline(timeoutMs: number, onLate: () => void): { done(): void } {
  const entry = {
    deadline: Date.now() + timeoutMs,
    finish(err: Error | null) {
      if (reading.delete(entry) && err) onLate();
    },
    done() {
      reading.delete(entry);
    },
  };
  watch(entry);
  return entry;
}

/** Whether a request carries a body still to come (a Content-Length above 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/**
 * For a request answered without reading its body: the connection is closed when the body has not all arrived
 * within `timeoutMs` (node's requestTimeout is off, so that uploads may take as long as they keep sending; the
 * routes that read a body bound it themselves).
 */
export function boundBody(req: IncomingMessage, timeoutMs: number): void {
  if (!hasBody(req) || req.complete) return;
  const entry = {
    // a route that reads the body itself (the download gate) answers 408 at the deadline first
    deadline: Date.now() + timeoutMs + BOUND_GRACE_MS,
    finish(err: Error | null) {
      if (!reading.delete(entry)) return;
      req.off('end', done);
      req.off('close', done);
      if (err) req.socket.destroy();
    },
  };
  const done = () => entry.finish(null);
  req.once('end', done);
  req.once('close', done);
  watch(entry);
}
