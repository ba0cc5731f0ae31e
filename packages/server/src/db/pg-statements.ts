import type pg from 'pg';

/**
 * The raw statements of db.all() on PostgreSQL (nonce and rate-window writes,
 * key and vhost reads: the signed-call path) as named prepared statements:
 * each connection parses and plans one once, then only binds and executes
 * it. On the 2-core bench machine, where the database backends share the
 * cores, bench/auth.ts on PostgreSQL makes a fifth to a third more signed
 * calls per second (2.1-2.3k -> 2.6-3.0k).
 *
 * Two failures fall back without the caller noticing; both are raised before
 * the statement runs, so the retry cannot repeat a write:
 * - "cached plan must not change result type" (0A000): a migration changed
 *   the columns a prepared statement returns (another node upgraded first).
 *   The statement gets a new name, which every connection prepares afresh.
 * - "prepared statement ... does not exist" (26000): a pooler hands the
 *   Execute to another server connection (PgBouncer before 1.21 in
 *   transaction mode). Naming stops for this node, with one warning;
 *   MCUBE_DB_PREPARED_STATEMENTS=off avoids the first failed call.
 */
export class PgStatements {
  private readonly names = new Map<string, string>();
  private next = 0;

  constructor(
    private readonly pool: pg.Pool,
    private enabled: boolean,
    private readonly warn: (msg: string, fields: Record<string, unknown>) => void,
    /** distinct statement texts named at most; the callers use a handful of constant texts */
    private readonly maxNames = 200,
  ) {}

  query<T>(text: string, values: unknown[], retry = true): Promise<T[]> {
    const name = this.enabled ? this.nameOf(text) : undefined;
    if (name === undefined) return this.pool.query(text, values).then((r) => r.rows as T[]);
    return this.pool.query({ name, text, values }).then(
      (r) => r.rows as T[],
      (err: { code?: string; message?: string }) => {
        if (retry && err.code === '0A000' && /cached plan/i.test(err.message ?? '')) {
          if (this.names.get(text) === name) this.names.delete(text);
          return this.query<T>(text, values, false);
        }
        if (retry && err.code === '26000') {
          if (this.enabled) this.warn('postgres prepared statements do not last between calls (a transaction-mode pooler?); using unnamed statements', { error: err.message });
          this.enabled = false;
          return this.query<T>(text, values, false);
        }
        throw err;
      },
    );
  }

  private nameOf(text: string): string | undefined {
    let name = this.names.get(text);
    if (name === undefined && this.names.size < this.maxNames) {
      name = `mcube_${this.next++}`;
      this.names.set(text, name);
    }
    return name;
  }
}
