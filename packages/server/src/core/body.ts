import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Pop } from './errors.js';

// Stalled bodies are found by one sweep over the reads in progress rather than
// a timer per request: arming and clearing a timer is a measurable share of a
// small signed call. Deadlines are kept to within SWEEP_MS.
const SWEEP_MS = 100;
const reading = new Set<BodyRead>();
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
    reading.add(this);
    if (!sweeper) {
      sweeper = setInterval(sweep, SWEEP_MS);
      sweeper.unref();
    }
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

/**
 * Bounds every body, read or not (a device check's, a health check's, one answered before it came): a connection
 * whose request has not all arrived `limitMs` after it was first seen incomplete is closed. Looked for every
 * `everyMs` in the request node is parsing on each open connection (its own field), rather than with a deadline per
 * request: one per device check cost the device bench 35 MB of RSS. `exempt` requests bound their own bodies.
 */
export function sweepStalledBodies(sockets: ReadonlySet<Socket>, limitMs: number, everyMs: number, exempt: (req: IncomingMessage) => boolean): NodeJS.Timeout {
  const seen = new WeakMap<Socket, { req: IncomingMessage; since: number }>();
  const timer = setInterval(() => {
    const now = Date.now();
    for (const socket of sockets) {
      const req = (socket as Socket & { parser?: { incoming?: IncomingMessage | null } | null }).parser?.incoming;
      if (!req || req.complete || exempt(req)) continue;
      const first = seen.get(socket);
      if (first?.req !== req) seen.set(socket, { req, since: now });
      else if (now - first.since >= limitMs) socket.destroy();
    }
  }, everyMs);
  timer.unref();
  return timer;
}
