import { createServer, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendMeasured } from './device-io.js';

let server: Server | null = null;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A real server whose handler is `handle`; resolves with its port. */
async function serve(handle: (res: ServerResponse) => void): Promise<number> {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function get(port: number): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    })
      .on('error', reject)
      .end();
  });
}

describe('device answers leave at the end of the event-loop turn', () => {
  it('writes nothing while the turn runs, then the whole answer with its headers', async () => {
    const seen: boolean[] = [];
    const port = await serve((res) => {
      sendMeasured(res, 200, '{"resultCode":100,"x":"é"}', Buffer.byteLength('{"resultCode":100,"x":"é"}'), { 'x-extra': 'yes' });
      seen.push(res.headersSent);
    });
    const got = await get(port);
    expect(seen).toEqual([false]);
    expect(got.status).toBe(200);
    expect(got.body).toBe('{"resultCode":100,"x":"é"}');
    expect(got.headers['content-length']).toBe(String(Buffer.byteLength(got.body)));
    expect(got.headers['x-extra']).toBe('yes');
    expect(got.headers['cache-control']).toBe('no-store');
  });

  it('skips a response whose client went away before the turn ended, and still answers the others of that turn', async () => {
    const held: ServerResponse[] = [];
    const port = await serve((res) => {
      held.push(res);
      if (held.length < 2) return;
      // both answers queued in one turn; the first client is gone before they leave
      sendMeasured(held[0]!, 200, '{"n":0}', 7);
      sendMeasured(held[1]!, 200, '{"n":1}', 7);
      held[0]!.destroy();
    });
    const first = get(port);
    await new Promise((r) => setTimeout(r, 50));
    const second = get(port);
    await expect(first).rejects.toThrow();
    expect(await second).toMatchObject({ status: 200, body: '{"n":1}' });
    // skipped, not written into a destroyed socket: a gone device is not counted as answered (app.ts reads headersSent)
    expect(held[0]!.headersSent).toBe(false);
    expect(held[1]!.headersSent).toBe(true);
  });

  it('a turn that queues many answers sends them 64 at a time, so the first ones do not wait for the whole turn', async () => {
    const written: number[] = [];
    const fake = (i: number) => {
      const res = { headersSent: false, destroyed: false, writeHead: () => void (res.headersSent = true), end: () => void written.push(i) };
      return res as unknown as ServerResponse;
    };
    for (let i = 0; i < 63; i++) sendMeasured(fake(i), 200, '{}', 2);
    expect(written).toEqual([]);
    sendMeasured(fake(63), 200, '{}', 2);
    expect(written).toEqual(Array.from({ length: 64 }, (_, i) => i));
    sendMeasured(fake(64), 200, '{}', 2);
    expect(written).toHaveLength(64);
    await new Promise((r) => setImmediate(r));
    expect(written).toHaveLength(65);
  });

  it('an answer that cannot be written is dropped with its connection, and the others of its turn still leave', async () => {
    const held: ServerResponse[] = [];
    const port = await serve((res) => {
      held.push(res);
      if (held.length < 2) return;
      // a header value node:http refuses (a line break) makes writeHead throw
      sendMeasured(held[0]!, 200, '{"n":0}', 7, { 'x-bad': 'a\r\nb' });
      sendMeasured(held[1]!, 200, '{"n":1}', 7);
    });
    const first = get(port);
    await new Promise((r) => setTimeout(r, 50));
    const second = get(port);
    await expect(first).rejects.toThrow();
    expect(await second).toMatchObject({ status: 200, body: '{"n":1}' });
    // skipped, not written into a destroyed socket: a gone device is not counted as answered (app.ts reads headersSent)
    expect(held[0]!.headersSent).toBe(false);
    expect(held[1]!.headersSent).toBe(true);
  });
});
