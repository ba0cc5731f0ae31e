import type { IncomingMessage } from 'node:http';
import { Pop } from './errors.js';

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
    let done = false;
    const finish = (err: Error | null, buf?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve(buf!);
    };
    const timer = setTimeout(() => finish(Pop.timeout()), timeoutMs);
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        finish(Pop.tooLarge(max));
        req.resume();
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => finish(null, Buffer.concat(chunks, size));
    const onError = (e: Error) => finish(e);
    const onAborted = () => finish(Object.assign(new Error('client aborted'), { aborted: true }));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
