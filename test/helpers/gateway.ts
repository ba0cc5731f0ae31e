import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Gateway {
  url: string;
  close(): Promise<void>;
}

/**
 * A loopback proxy in front of a test server, as operators put one: `answer` may
 * answer a request itself (return true); anything else is forwarded unchanged, Host
 * included (so signatures still verify), to `rewrite(path)` on the server. A request for which
 * `loseAnswer` is true is forwarded and done by the server, but its answer is lost: the client gets
 * a 502 page, as from a proxy whose upstream timed out.
 */
export async function startGateway(
  port: number,
  answer: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
  rewrite: (path: string) => string = (p) => p,
  loseAnswer: (req: IncomingMessage) => boolean = () => false,
): Promise<Gateway> {
  const proxy = createServer((req, res) => {
    if (answer(req, res)) return;
    const up = request({ host: '127.0.0.1', port, method: req.method, path: rewrite(req.url ?? '/'), headers: req.headers }, (r) => {
      if (loseAnswer(req)) {
        r.resume();
        r.on('end', () => res.writeHead(502, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>'));
        return;
      }
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    close: () => new Promise((r) => proxy.close(() => r())),
  };
}
