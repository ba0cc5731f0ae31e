import type { Database } from '../db/database.js';
import { isDataError, isGivenUp } from './errors.js';

export interface Admission {
  /** the nonce was unused for this key */
  fresh: boolean;
  /** requests of this key counted in the rate window so far, this one included (0 when not counted) */
  count: number;
}

interface Pending {
  keyId: string;
  nonce: string;
  expiresAt: number;
  /** start of the rate window to count the request in; null when rate limiting is off */
  window: number | null;
  resolve: (a: Admission) => void;
  reject: (err: unknown) => void;
}

const INSERT_NONCE = 'INSERT INTO request_nonces (key_id, nonce, expires_at) VALUES (?, ?, ?) ON CONFLICT (key_id, nonce) DO NOTHING';
/**
 * PostgreSQL, one statement (one round trip) per batch: the nonces are
 * inserted, and the fresh ones, the rows that were new, are counted into
 * their key's rate window. Rows with a nonce are the fresh requests; rows
 * with a window_start are the windows' totals after this batch. Rows are
 * written in key order: batches of two nodes that share keys then lock their
 * rate windows in the same order instead of deadlocking (an audit saw 37-58
 * requests in 8 s of three nodes answered 503 that way).
 */
const ADMIT_PG = `WITH input AS (
  SELECT * FROM unnest(?::varchar[], ?::varchar[], ?::bigint[], ?::bigint[]) AS t(key_id, nonce, expires_at, window_start)
), ins AS (
  INSERT INTO request_nonces (key_id, nonce, expires_at) SELECT key_id, nonce, expires_at FROM input ORDER BY key_id, nonce
  ON CONFLICT (key_id, nonce) DO NOTHING RETURNING key_id, nonce
), counted AS (
  INSERT INTO rate_windows (key_id, window_start, count)
  SELECT i.key_id, i.window_start, count(*) FROM ins JOIN input i ON i.key_id = ins.key_id AND i.nonce = ins.nonce
  WHERE i.window_start IS NOT NULL GROUP BY i.key_id, i.window_start ORDER BY i.key_id, i.window_start
  ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_windows.count + excluded.count
  RETURNING key_id, window_start, count
)
SELECT key_id, nonce, NULL::bigint AS window_start, NULL::bigint AS count FROM ins
UNION ALL
SELECT key_id, NULL, window_start, count FROM counted`;
const COUNT_WINDOW =
  'INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, ?) ' +
  'ON CONFLICT (key_id, window_start) DO UPDATE SET count = rate_windows.count + excluded.count RETURNING count';

/**
 * Group commit for the per-request credential writes: the nonces of the
 * requests that arrived in one event-loop turn are inserted together (ON
 * CONFLICT DO NOTHING; a nonce is fresh exactly when its row is new), and
 * each key's rate-window counter is raised once by the number of fresh
 * requests. The database stays the single arbiter across nodes; batching only
 * shares the cost of the writes (on SQLite one commit per batch).
 */
export class NonceBatcher {
  private pending: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly maxBatch = 500,
  ) {}

  admit(keyId: string, nonce: string, expiresAt: number, window: number | null = null): Promise<Admission> {
    return new Promise((resolve, reject) => {
      this.pending.push({ keyId, nonce, expiresAt, window, resolve, reject });
      this.schedule();
    });
  }

  private schedule() {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    const batch = this.pending.splice(0, this.maxBatch);
    try {
      await this.write(batch);
    } catch (err) {
      // One request's bad row must not fail the others' (callers validate the values, this is the backstop):
      // after a data error the batch is written again one request at a time, and only the failing ones are
      // refused. Any other failure (a busy or lost database) fails the batch as it is, at once.
      if (batch.length === 1 || !isDataError(err)) for (const p of batch) p.reject(err);
      else for (const p of batch) await this.write([p]).catch((e: unknown) => p.reject(e));
    } finally {
      this.flushing = false;
      if (this.pending.length) this.schedule();
    }
  }

  /** Writes a batch and resolves its requests; throws (resolving none) when the write fails. */
  private async write(batch: Pending[]): Promise<void> {
    // a nonce given twice in one batch: only its first request may pass
    const seen = new Set<string>();
    const first = batch.map((p) => {
      const k = `${p.keyId}\u0000${p.nonce}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    const written = this.db.sqliteBatch((run) => {
      const fresh = batch.map((p, i) => first[i]! && run(INSERT_NONCE, [p.keyId, p.nonce, p.expiresAt]).changes === 1);
      return { fresh, totals: this.countWindows(batch, fresh, (k, w, n) => Number(run(COUNT_WINDOW, [k, w, n]).rows[0]!.count)) };
    });
    const { fresh, totals } = written ?? (await this.writeShared(batch, first));
    // requests of one key get consecutive counts in arrival order, as if counted one by one
    const next = new Map<string, number>();
    batch.forEach((p, i) => {
      if (!fresh[i] || p.window === null) return p.resolve({ fresh: fresh[i]!, count: 0 });
      const k = `${p.keyId}\u0000${p.window}`;
      const { total, added } = totals.get(k)!;
      const pos = (next.get(k) ?? 0) + 1;
      next.set(k, pos);
      p.resolve({ fresh: true, count: total - added + pos });
    });
  }

  private countWindows<R>(batch: Pending[], fresh: boolean[], count: (keyId: string, window: number, n: number) => R): Map<string, { total: R; added: number }> {
    const groups = new Map<string, { keyId: string; window: number; n: number }>();
    batch.forEach((p, i) => {
      if (!fresh[i] || p.window === null) return;
      const k = `${p.keyId}\u0000${p.window}`;
      const g = groups.get(k);
      if (g) g.n++;
      else groups.set(k, { keyId: p.keyId, window: p.window, n: 1 });
    });
    const out = new Map<string, { total: R; added: number }>();
    for (const [k, g] of groups) out.set(k, { total: count(g.keyId, g.window, g.n), added: g.n });
    return out;
  }

  /** PostgreSQL, or SQLite while a knex transaction holds the connection. */
  private async writeShared(batch: Pending[], first: boolean[]) {
    const unique = batch.filter((_, i) => first[i]);
    if (this.db.dialect === 'pg') return this.writePg(batch, first, unique);
    const rows = unique.map((p) => ({ key_id: p.keyId, nonce: p.nonce, expires_at: p.expiresAt }));
    const inserted: Array<{ key_id: string; nonce: string }> = await this.db
      .knex('request_nonces')
      .insert(rows)
      .onConflict(['key_id', 'nonce'])
      .ignore()
      .returning(['key_id', 'nonce']);
    const ok = new Set(inserted.map((r) => `${r.key_id}\u0000${r.nonce}`));
    const fresh = batch.map((p, i) => first[i]! && ok.has(`${p.keyId}\u0000${p.nonce}`));
    const pending = this.countWindows(batch, fresh, (k, w, n) => this.db.all<{ count: number | string }>(COUNT_WINDOW, [k, w, n]));
    const totals = new Map<string, { total: number; added: number }>();
    for (const [k, v] of pending) totals.set(k, { total: Number((await v.total)[0]!.count), added: v.added });
    return { fresh, totals };
  }

  private async writePg(batch: Pending[], first: boolean[], unique: Pending[]) {
    // one statement text whatever the batch size; atomic, so a batch PostgreSQL gave up (deadlock) is run again once
    const rows = await retryOnce(() => this.db.all<{ key_id: string; nonce: string | null; window_start: string | number | null; count: string | number | null }>(ADMIT_PG, [
      unique.map((p) => p.keyId),
      unique.map((p) => p.nonce),
      unique.map((p) => p.expiresAt),
      unique.map((p) => p.window),
    ]));
    const ok = new Set<string>();
    const windowTotals = new Map<string, number>();
    for (const r of rows) {
      if (r.nonce !== null) ok.add(`${r.key_id}\u0000${r.nonce}`);
      else windowTotals.set(`${r.key_id}\u0000${Number(r.window_start)}`, Number(r.count));
    }
    const fresh = batch.map((p, i) => first[i]! && ok.has(`${p.keyId}\u0000${p.nonce}`));
    const totals = this.countWindows(batch, fresh, (k, w) => windowTotals.get(`${k}\u0000${w}`)!);
    return { fresh, totals };
  }
}

/** Runs an atomic statement again once when PostgreSQL gave it up (deadlock, serialization failure): it wrote nothing. */
async function retryOnce<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!isGivenUp(err)) throw err;
    return run();
  }
}
