import type { Knex } from 'knex';
import { handBack } from '../core/hand-back.js';

/** SQLite: rows deleted per statement by deleteRows (a few milliseconds each). */
export const DELETE_CHUNK = 2500;

/**
 * Deletes the rows of `table` that `filter` selects, inside the caller's
 * transaction (so nothing sees them half deleted). SQLite deletes
 * synchronously, so a million rows in one statement held the event loop
 * (every device check of the node) for most of a second: there the rows go in
 * chunks by rowid, with a turn of the event loop between chunks. Meanwhile
 * every other statement of this node waits for the transaction (one
 * connection) and other processes for the write lock, as they did for the one
 * statement, only the node keeps answering what needs no database.
 * PostgreSQL keeps one statement: it does not hold the node.
 */
export async function deleteRows(
  q: Knex.Transaction,
  dialect: 'sqlite' | 'pg',
  table: string,
  filter: (rows: Knex.QueryBuilder) => Knex.QueryBuilder,
): Promise<number> {
  if (dialect === 'pg') return filter(q(table)).delete();
  let deleted = 0;
  for (;;) {
    const n = await q(table)
      .whereIn('rowid', filter(q(table)).select('rowid').limit(DELETE_CHUNK))
      .delete();
    deleted += n;
    if (n < DELETE_CHUNK) return deleted;
    await handBack();
  }
}
