import express from 'express';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildRegistry } from './actions.js';
import { urlHost, type Config } from './config.js';
import { answerClientError, answerConnect, refuseBadHost, refuseRequest } from './core/client-error.js';
import { createLogger, type Logger } from './core/logger.js';
import { newRequestId, setWireTimeZone } from './core/ids.js';
import { Metrics, type DeviceEndpointName } from './core/metrics.js';
import { SecretBox, safeEqual } from './core/crypto.js';
import type { Deps } from './core/registry.js';
import { createRpcHandler } from './core/rpc.js';
import { sweepStalledBodies } from './core/body.js';
import { openDatabase } from './db/database.js';
import { ClientKeys } from './features/delivery/client-keys.js';
import { createDelivery } from './features/delivery/index.js';
import { assertMasterKeyOpens } from './features/tenants/tenant-store.js';
import { DeviceRateLimiter } from './features/delivery/rate-limit.js';
import { startStampWatcher, type StampWatcher } from './features/delivery/stamp-watcher.js';
import { createUpgradeCheck } from './features/upgrade/upgrade-check.js';
import { createSwitchPull } from './features/switches/switch-pull.js';
import { createDownloadGate } from './features/upgrade/download-gate.js';
import { createBlobStore, isLocalUpload, mountStorageRoutes } from './features/storage/index.js';
import { LocalBlobStore } from './features/storage/local-store.js';
import { startJanitor } from './features/janitor/index.js';
import { periodic, type Periodic } from './core/periodic.js';

/** longest a readiness probe waits for the database before it answers 503 */
const READY_TIMEOUT_MS = 2000;
/** Expired nonces and old rate windows are deleted this often on every node. */
const NONCE_SWEEP_EVERY_MS = 60_000;
/** after the requests drained: how long closing the database, storage and background jobs may take */
const CLOSE_TAIL_MS = 10_000;

const HEALTHY = '{"status":"ok"}';
const READY = '{"status":"ready"}';
const DRAINING = '{"status":"draining"}';
const UNAVAILABLE = '{"status":"unavailable","error":"database unreachable"}';
function sendJson(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

export interface McubeServer {
  server: Server;
  deps: Deps;
  registry: ReturnType<typeof buildRegistry>;
  /** the node's periodic jobs; close() stops them before the database closes */
  background: { nonceSweep: Periodic; janitor: Periodic };
  listen(): Promise<{ port: number; url: string }>;
  close(): Promise<void>;
}

export interface CreateOptions {
  logSink?: (line: string) => void;
  now?: () => number;
  logger?: Logger;
}

/** Assembles one stateless node: PostgreSQL/SQLite and the blob store are the shared state. */
export async function createMcubeServer(config: Config, opts: CreateOptions = {}): Promise<McubeServer> {
  const log = opts.logger ?? createLogger(config.logLevel, opts.logSink);
  setWireTimeZone(config.wireTimeZoneMinutes);
  const db = await openDatabase(config, { serverLog: log });
  const box = new SecretBox(config.masterKey, config.masterKeysOpenOnly);
  try {
    await assertMasterKeyOpens(db, box);
  } catch (err) {
    await db.close();
    throw err;
  }
  const blobs = await createBlobStore(config, log);
  const now = opts.now ?? Date.now;
  const metrics = new Metrics();
  metrics.sources.dbPools = () => db.poolStats();
  let delivery: ReturnType<typeof createDelivery> | undefined;
  let upgradeCheck: ReturnType<typeof createUpgradeCheck> | undefined;
  let switchPull: ReturnType<typeof createSwitchPull> | undefined;
  const deps: Deps = {
    config,
    db,
    log,
    box,
    blobs,
    now,
    metrics,
    onDeliveryChange: (appId, ws) => {
      delivery?.onChange(appId, ws);
      upgradeCheck?.onChange(appId, ws);
      switchPull?.onChange(appId, ws);
    },
  };
  // one client-key cache and one set of device limits for the device endpoints: a device asking several
  // costs one key lookup and counts once against its limit
  const clientKeys = new ClientKeys(db, now);
  const d = config.delivery;
  const deviceLimits = new DeviceRateLimiter(
    { perDevicePerMin: d.deviceRatePerMin, perAddressPerMin: d.deviceRatePerAddressPerMin, trustProxyHops: config.http.trustProxyHops },
    now,
  );
  delivery = createDelivery(deps, clientKeys, deviceLimits);
  upgradeCheck = createUpgradeCheck(deps, clientKeys, deviceLimits);
  switchPull = createSwitchPull(deps, clientKeys, deviceLimits);
  const downloadGate = createDownloadGate(deps, (req) => deviceLimits.addressOf(req));
  // only the local driver serves an upload form; on S3 those paths are unknown ones like any other
  const localUploads = deps.blobs instanceof LocalBlobStore;
  const registry = buildRegistry();
  const hostId = new URL(config.publicUrl).host;
  const rpc = createRpcHandler({ deps, registry, hostId });

  const app = express();
  app.disable('x-powered-by');
  mountStorageRoutes(app, deps);
  // a POP body, so a client whose endpoint carries a path (pop-core with http://host/prefix) reports a request id
  app.use((req, res) => {
    const requestId = newRequestId();
    res
      .status(404)
      .set('x-acs-request-id', requestId)
      .json({ RequestId: requestId, HostId: req.headers.host ?? hostId, Code: 'NotFound', Message: 'No such endpoint: OpenAPI calls go to "/", device checks to /device/….', Recommend: 'docs/errors.md#notfound' });
  });

  let inFlight = 0;
  let closing = false;
  // answers still to be written when a drain starts say "connection: close", or the client's next request on that
  // socket met a closed connection, and a state-changing call there cannot be retried safely. Kept per connection:
  // putting every response into a Set cost the device endpoint half its throughput (an identity hash per response).
  const sockets = new Set<Socket>();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    // the one listener a request gets anyway (graceful drain) also counts device answers
    let device: DeviceEndpointName | null = null;
    let t0 = 0;
    res.on('close', () => {
      inFlight--;
      // a device gone before its answer was sent is not an answer (statusCode would still read 200)
      if (device !== null && res.headersSent) metrics.device(device, res.statusCode, (performance.now() - t0) / 1000);
    });
    if (closing) res.setHeader('connection', 'close');
    if (refuseBadHost(req, res, currentHost)) return;
    // the absolute form ("GET http://host/?Action=… HTTP/1.1") names the same target (RFC 9112 §3.2.2); the
    // parser lets through authorities no URL has ("http://%zz/"), and a throw here would end the process
    if (req.url && !req.url.startsWith('/') && /^https?:\/\//i.test(req.url)) {
      let u: URL;
      try {
        u = new URL(req.url);
      } catch {
        return refuseRequest(req, res, currentHost(), 'The request target is not a URL.');
      }
      req.url = u.pathname + u.search;
    }
    const path = req.url ?? '/';
    if (path === '/' || path.startsWith('/?')) {
      void rpc.handler(req, res);
      return;
    }
    if (path === '/healthz') {
      sendJson(res, 200, HEALTHY);
      return;
    }
    if (path === '/readyz') {
      // a stopping node tells its balancer first, while it still serves
      if (closing) {
        sendJson(res, 503, DRAINING);
        return;
      }
      // a database that stops answering (without refusing connections) must make the node unready, not hang the probe
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer from the database within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      });
      Promise.race([db.knex.raw('select 1'), late])
        .then(() => sendJson(res, 200, READY))
        .catch((e: Error) => {
          // the cause goes to the log; the answer is public and says only that the database is out of reach
          log.warn('readiness check failed', { error: e.message });
          sendJson(res, 503, UNAVAILABLE);
        })
        .finally(() => clearTimeout(timer));
      return;
    }
    if (path === '/metrics') {
      serveMetrics(req, res);
      return;
    }
    t0 = performance.now();
    if (upgradeCheck!.handle(req, res)) {
      device = 'upgrade';
      return;
    }
    if (switchPull!.handle(req, res)) {
      device = 'config';
      return;
    }
    if (delivery!.handle(req, res)) {
      device = 'nebula';
      return;
    }
    if (downloadGate.handle(req, res)) return;
    app(req, res);
  };
  // a throw in a request listener would end the process: one bad request must cost only its own answer
  const guardedOnRequest = (req: IncomingMessage, res: ServerResponse) => {
    try {
      onRequest(req, res);
    } catch (err) {
      log.error('request handler failed', { url: String(req.url).slice(0, 200), error: String((err as Error)?.stack ?? err).slice(0, 2000) });
      if (res.headersSent) res.destroy();
      else refuseRequest(req, res, currentHost(), 'The request could not be handled.', 500, 'InternalError');
    }
  };
  // No requestTimeout: it bounds the whole request, and cut local-storage uploads that were still sending at 20 s.
  // OpenAPI calls and the download gate read their bodies with a deadline (408), the upload form keeps its own
  // clock, and every other body is cut by the sweep below.
  // Node checks headersTimeout every connectionsCheckingInterval (30 s by default): stalled headers were held up to 40 s
  const server = createServer(
    { requestTimeout: 0, headersTimeout: Math.min(10000, config.http.bodyTimeoutMs + 5000), keepAliveTimeout: 5000, connectionsCheckingInterval: 1000, requireHostHeader: false },
    guardedOnRequest,
  );
  const serveMetrics = (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const { enabled, token } = config.metrics;
    if (!enabled) return sendJson(res, 404, JSON.stringify({ Code: 'NotFound', Message: 'No such endpoint.' }));
    if (token !== null && !safeEqual(req.headers.authorization ?? '', `Bearer ${token}`)) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendJson(res, 401, JSON.stringify({ Code: 'Unauthorized', Message: 'GET /metrics wants Authorization: Bearer <MCUBE_METRICS_TOKEN>.' }));
    }
    const text = metrics.render();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' }).end(text);
  };
  // publicUrl, not hostId: on port 0 listen() puts the chosen port into it
  const currentHost = () => new URL(config.publicUrl).host;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // a second past MCUBE_BODY_TIMEOUT_MS, so that a route reading its body (an OpenAPI call) answers its own 408 first
  const bodySweep = sweepStalledBodies(sockets, config.http.bodyTimeoutMs + 1000, Math.min(1000, config.http.bodyTimeoutMs / 2), (req) => localUploads && isLocalUpload(req));
  server.once('close', () => clearInterval(bodySweep));
  server.on('clientError', answerClientError(currentHost));
  server.on('connect', answerConnect(currentHost));

  const sweep = periodic(NONCE_SWEEP_EVERY_MS, (signal) => rpc.auth.sweep(undefined, signal), (e) => log.warn('nonce sweep failed', { error: e.message }));
  const janitor = startJanitor(deps);
  let watcher: StampWatcher | null = null;

  return {
    server,
    deps,
    registry,
    background: { nonceSweep: sweep, janitor },
    async listen() {
      // one watcher per node tells the device endpoints when another node changed what devices get
      watcher ??= startStampWatcher(deps, [delivery!.stampHooks, upgradeCheck!.stampHooks, switchPull!.stampHooks, clientKeys.stampHooks]);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      if (config.port === 0 && config.publicUrlFromPort) {
        // upload hosts, download links and QR codes are made from publicUrl: give them the port picked
        const u = new URL(config.publicUrl);
        u.port = String(port);
        config.publicUrl = u.toString().replace(/\/+$/, '');
      }
      return { port, url: `http://${urlHost(config.host)}:${port}` };
    },
    async close() {
      closing = true;
      for (const socket of sockets) {
        // the response a keep-alive socket is working on (Node's own field; the server sets it per request)
        const res = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
        if (res && !res.headersSent) res.setHeader('connection', 'close');
      }
      // the background jobs stop at their next chunk; awaited before the database closes
      const background = Promise.all([sweep.stop(), janitor.stop()]);
      // MCUBE_SHUTDOWN_DELAY_MS: /readyz fails and answers carry "connection: close" while requests are still
      // served, so a balancer polling /readyz takes the node out before its listener goes away
      if (config.http.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, config.http.shutdownDelayMs));
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      const deadline = Date.now() + config.http.shutdownGraceMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      server.closeAllConnections();
      await closed;
      // a database that stopped answering must not hold the exit: what waits on it gets a few seconds more
      const rest = (async () => {
        await watcher?.stop();
        watcher = null;
        await delivery!.drain();
        await upgradeCheck!.drain();
        await switchPull!.drain();
        metrics.stop();
        await background;
        await blobs.close?.();
        await db.close();
      })();
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = await Promise.race([
        rest.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), CLOSE_TAIL_MS))),
      ]).finally(() => clearTimeout(timer));
      if (gaveUp) log.warn('shutdown: the database or storage did not finish closing in time; exiting without them', { waitedMs: CLOSE_TAIL_MS });
    },
  };
}
