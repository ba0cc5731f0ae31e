import type { Deps } from '../../core/registry.js';
import { DELIVERY_CHANNEL, DELIVERY_PAYLOAD_SEPARATOR } from '../../db/stamps.js';
import { readStamp } from './snapshot-loader.js';

/** What one consumer of the change stamps (the H5 snapshots, the upgrade plans) gives the watcher. */
export interface StampWatcherHooks {
  /** periodic safety net: compare every loaded snapshot with its stamp */
  poll(): Promise<void>;
  /**
   * A NOTIFY for one app/workspace arrived (PostgreSQL). NOTIFY carries no
   * schema (other installations may share the channel), so compare `stamp()`
   * with what is held before rebuilding: it reads the stamp once for all
   * consumers, and only if one asks.
   */
  notified(appId: string, workspaceId: string, stamp: () => Promise<number>): void;
}

export interface StampWatcher {
  stop(): Promise<void>;
}

interface RawPgConnection {
  query(sql: string): Promise<unknown>;
  on(event: 'notification', cb: (msg: { channel: string; payload?: string }) => void): void;
  on(event: 'error' | 'end', cb: (err?: Error) => void): void;
  removeAllListeners(): void;
  end(): Promise<void>;
}

/**
 * Tells delivery when the change stamps move. On PostgreSQL a dedicated
 * connection (outside the pool) LISTENs on mcube_delivery, so a commit on any
 * node reaches every node in milliseconds; it reconnects with back-off and
 * polls once after each (re)connect to catch what it missed. A cheap periodic
 * stamp poll runs on both databases as a safety net; on SQLite it is the only
 * path (several processes can share one SQLite file).
 */
export function startStampWatcher(deps: Deps, consumers: readonly StampWatcherHooks[]): StampWatcher {
  let stopped = false;
  let polling = false;
  /** a poll failed since the last one that succeeded */
  let pollFailed = false;
  const poll = () => {
    if (polling || stopped) return;
    polling = true;
    Promise.all(consumers.map((c) => c.poll()))
      .then(reconnectNow)
      .catch((err: Error) => {
        pollFailed = true;
        deps.log.warn('delivery stamp poll failed', { error: err.message });
      })
      .finally(() => {
        polling = false;
      });
  };
  const timer = setInterval(poll, deps.config.delivery.pollIntervalMs);
  timer.unref();

  let conn: RawPgConnection | null = null;
  let retry: NodeJS.Timeout | null = null;
  let backoff = 250;
  const client = deps.db.knex.client as { acquireRawConnection(): Promise<RawPgConnection> };

  let connecting = false;
  const connect = async () => {
    retry = null;
    if (stopped || connecting) return;
    connecting = true;
    let c: RawPgConnection | null = null;
    try {
      c = await client.acquireRawConnection();
      c.on('notification', (msg) => {
        if (msg.channel !== DELIVERY_CHANNEL || !msg.payload) return;
        const sep = msg.payload.indexOf(DELIVERY_PAYLOAD_SEPARATOR);
        if (sep <= 0) return;
        const appId = msg.payload.slice(0, sep);
        const workspaceId = msg.payload.slice(sep + 1);
        let read: Promise<number> | null = null;
        const stamp = () => (read ??= readStamp(deps, appId, workspaceId));
        for (const c of consumers) c.notified(appId, workspaceId, stamp);
      });
      const lost = (err?: Error) => {
        if (conn !== c) return;
        conn = null;
        silence(c);
        c?.end().catch(() => {});
        if (stopped) return;
        deps.log.warn('delivery LISTEN connection lost; reconnecting', { error: err?.message ?? 'ended' });
        schedule();
      };
      c.on('error', lost);
      c.on('end', lost);
      conn = c;
      // names the connection in pg_stat_activity (per schema when several installations share a database)
      await c.query(`SET application_name = '${listenerName(deps.config.dbSchema)}'`);
      await c.query(`LISTEN ${DELIVERY_CHANNEL}`);
      if (stopped) {
        conn = null;
        silence(c);
        await c.end().catch(() => {});
        return;
      }
      backoff = 250;
      poll();
    } catch (err) {
      if (conn === c) conn = null;
      silence(c);
      await c?.end().catch(() => {});
      if (stopped) return;
      deps.log.warn('delivery LISTEN failed; retrying', { error: (err as Error).message, inMs: backoff });
      schedule();
    } finally {
      connecting = false;
    }
  };
  // The first poll that reaches the database again after polls failed, while the listener waits out its
  // back-off (up to 10 s): the database is back, so listen again now rather than leave changes to the poll
  // until the next attempt. Only after failed polls: when just the listener is refused (the pool still
  // works), its back-off stands.
  const reconnectNow = () => {
    if (!pollFailed) return;
    pollFailed = false;
    if (stopped || conn || connecting || !retry) return;
    clearTimeout(retry);
    retry = null;
    void connect();
  };
  const schedule = () => {
    if (retry || stopped) return;
    retry = setTimeout(() => void connect(), backoff);
    retry.unref();
    backoff = Math.min(backoff * 2, 10_000);
  };
  if (deps.db.dialect === 'pg') void connect();

  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (retry) clearTimeout(retry);
      const c = conn;
      conn = null;
      if (c) {
        silence(c);
        await c.end().catch(() => {});
      }
    },
  };
}

/** Drops our listeners but keeps one for 'error', so a late socket error cannot crash the process. */
function silence(c: RawPgConnection | null): void {
  if (!c) return;
  c.removeAllListeners();
  c.on('error', () => {});
}

/** application_name of the LISTEN connection: "mcube-listen" or "mcube-listen:<schema>". */
export function listenerName(schema: string | null): string {
  return ('mcube-listen' + (schema ? ':' + schema : '')).replace(/[^A-Za-z0-9_:.-]/g, '_').slice(0, 63);
}
