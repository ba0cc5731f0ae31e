import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A bystander HTTP server that answers every request with useful-looking
 * content (so a server that wrongly fetched from it would go on and succeed)
 * and counts connections, requests and bytes it sent.
 */
export interface CountingServer {
  port: number;
  origin: string;
  connections(): number;
  requests(): number;
  bytesSent(): number;
  close(): Promise<void>;
}

export async function startCountingServer(body: (path: string) => Buffer): Promise<CountingServer> {
  let connections = 0;
  let requests = 0;
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const b = body(req.url ?? '/');
    bytes += b.length;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': b.length }).end(b);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    connections: () => connections,
    requests: () => requests,
    bytesSent: () => bytes,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
