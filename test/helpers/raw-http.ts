import { connect } from 'node:net';

/**
 * A socket-level HTTP/1.1 exchange for inputs no HTTP client library would
 * send: raw bytes in the request line, lying content-lengths, bodies cut off
 * or stalled half way.
 */
export interface RawExchange {
  /** written in order; a part with `pauseMs` waits that long before it is written */
  parts: Array<{ bytes: Buffer; pauseMs?: number }>;
  /** after the last part: wait for the answer (default), half-close, or drop the connection */
  then?: 'wait' | 'end' | 'destroy';
  /** give up after this long (the exchange then counts as hung) */
  timeoutMs: number;
}

export interface RawAnswer {
  /** 0 when the server closed without answering */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  json: any;
  /** the connection closed before a full answer arrived */
  closedEarly: boolean;
  timedOut: boolean;
  ms: number;
}

export function exchange(host: string, ex: RawExchange): Promise<RawAnswer> {
  const [hostname, port] = host.split(':');
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname!);
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (timedOut: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(parse(Buffer.concat(chunks), timedOut, Date.now() - t0));
    };
    const timer = setTimeout(() => finish(true), ex.timeoutMs);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (complete(Buffer.concat(chunks))) finish(false);
    });
    sock.on('close', () => finish(false));
    sock.on('error', () => finish(false));
    sock.once('connect', async () => {
      for (const p of ex.parts) {
        if (p.pauseMs) await new Promise((r) => setTimeout(r, p.pauseMs));
        if (done || sock.destroyed) return;
        sock.write(p.bytes);
      }
      if (ex.then === 'end') sock.end();
      else if (ex.then === 'destroy') {
        // let the bytes leave before the reset
        setTimeout(() => {
          if (!done) {
            sock.destroy();
            finish(false);
          }
        }, 20);
      }
    });
  });
}

function headerEnd(buf: Buffer): number {
  return buf.indexOf('\r\n\r\n');
}

function complete(buf: Buffer): boolean {
  const he = headerEnd(buf);
  if (he < 0) return false;
  const head = buf.subarray(0, he).toString('latin1');
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (!m) return false; // read to close
  return buf.length - (he + 4) >= Number(m[1]);
}

function parse(buf: Buffer, timedOut: boolean, ms: number): RawAnswer {
  const he = headerEnd(buf);
  if (he < 0) return { status: 0, headers: {}, body: Buffer.alloc(0), json: undefined, closedEarly: !timedOut, timedOut, ms };
  const lines = buf.subarray(0, he).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = buf.subarray(he + 4);
  const declared = headers['content-length'];
  let closedEarly = false;
  if (declared !== undefined) {
    if (body.length < Number(declared)) closedEarly = !timedOut;
    body = body.subarray(0, Number(declared));
  }
  let json: any;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status, headers, body, json, closedEarly, timedOut, ms };
}

/** "METHOD target HTTP/1.1" + headers + blank line, as bytes; header values may carry raw bytes. */
export function requestHead(method: string, target: string | Buffer, headers: Array<[string, string | Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from(`${method} `, 'latin1'), typeof target === 'string' ? Buffer.from(target, 'latin1') : target, Buffer.from(' HTTP/1.1\r\n', 'latin1')];
  for (const [k, v] of headers) parts.push(Buffer.from(`${k}: `, 'latin1'), typeof v === 'string' ? Buffer.from(v, 'latin1') : v, Buffer.from('\r\n', 'latin1'));
  parts.push(Buffer.from('\r\n', 'latin1'));
  return Buffer.concat(parts);
}

/**
 * Sends a request head declaring a body of 100 bytes and only `sent` of it, then waits up to `guardMs`:
 * what the server answered (raw text, '' for nothing) and whether it closed the connection by then.
 */
export function stallBody(host: string, requestLine: string, guardMs: number, sent = 'x'): Promise<{ answer: string; closed: boolean }> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname!);
    let answer = '';
    const guard = setTimeout(() => {
      sock.destroy();
      resolve({ answer, closed: false });
    }, guardMs);
    sock.on('data', (c: Buffer) => (answer += c.toString()));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(guard);
      resolve({ answer, closed: true });
    });
    sock.write(`${requestLine}\r\nhost: ${host}\r\ncontent-length: 100\r\n\r\n${sent}`);
  });
}
