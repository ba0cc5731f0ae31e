import type { Database } from '../db/database.js';

interface Pending {
  keyId: string;
  nonce: string;
  expiresAt: number;
  resolve: (fresh: boolean) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit for request nonces: the nonces of concurrent requests go into
 * one multi-row INSERT ... ON CONFLICT DO NOTHING RETURNING, and a nonce is
 * fresh exactly when its row comes back. The database stays the single
 * arbiter across nodes; batching only shares the write's cost.
 */
export class NonceBatcher {
  private pending: Pending[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(
    private readonly db: Database,
    private readonly maxBatch = 500,
  ) {}

  /** true when the nonce was unused for this key */
  use(keyId: string, nonce: string, expiresAt: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ keyId, nonce, expiresAt, resolve, reject });
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
      const seen = new Set<string>();
      const rows: Array<{ key_id: string; nonce: string; expires_at: number }> = [];
      const firstOfKey: boolean[] = [];
      for (const p of batch) {
        const k = `${p.keyId}\u0000${p.nonce}`;
        firstOfKey.push(!seen.has(k));
        if (!seen.has(k)) rows.push({ key_id: p.keyId, nonce: p.nonce, expires_at: p.expiresAt });
        seen.add(k);
      }
      const inserted: Array<{ key_id: string; nonce: string }> = await this.db
        .knex('request_nonces')
        .insert(rows)
        .onConflict(['key_id', 'nonce'])
        .ignore()
        .returning(['key_id', 'nonce']);
      const fresh = new Set(inserted.map((r) => `${r.key_id}\u0000${r.nonce}`));
      batch.forEach((p, i) => p.resolve(firstOfKey[i]! && fresh.has(`${p.keyId}\u0000${p.nonce}`)));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.flushing = false;
      if (this.pending.length) this.schedule();
    }
  }
}
