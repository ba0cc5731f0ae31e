import type { Database } from '../db/database.js';

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
const INSERT_NONCES_PG =
  'INSERT INTO request_nonces (key_id, nonce, expires_at) SELECT * FROM unnest(?::varchar[], ?::varchar[], ?::bigint[]) ' +
  'ON CONFLICT (key_id, nonce) DO NOTHING RETURNING key_id, nonce';
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
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.flushing = false;
      if (this.pending.length) this.schedule();
    }
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
    let inserted: Array<{ key_id: string; nonce: string }>;
    if (this.db.dialect === 'pg') {
      // one statement text whatever the batch size
      inserted = await this.db.all(INSERT_NONCES_PG, [unique.map((p) => p.keyId), unique.map((p) => p.nonce), unique.map((p) => p.expiresAt)]);
    } else {
      const rows = unique.map((p) => ({ key_id: p.keyId, nonce: p.nonce, expires_at: p.expiresAt }));
      inserted = await this.db.knex('request_nonces').insert(rows).onConflict(['key_id', 'nonce']).ignore().returning(['key_id', 'nonce']);
    }
    const ok = new Set(inserted.map((r) => `${r.key_id}\u0000${r.nonce}`));
    const fresh = batch.map((p, i) => first[i]! && ok.has(`${p.keyId}\u0000${p.nonce}`));
    const pending = this.countWindows(batch, fresh, (k, w, n) => this.db.all<{ count: number | string }>(COUNT_WINDOW, [k, w, n]));
    const totals = new Map<string, { total: number; added: number }>();
    for (const [k, v] of pending) totals.set(k, { total: Number((await v.total)[0]!.count), added: v.added });
    return { fresh, totals };
  }
}
