import type { Knex } from 'knex';

const isPg = (knex: Knex) => /^(pg|postgres)/.test(String(knex.client.config.client));

/**
 * Drops columns in a down migration. On SQLite this is SQLite's own DROP COLUMN:
 * knex's portable way rebuilds the table, and dropping the old table inside the
 * migration's transaction (where foreign keys cannot be switched off) cascades
 * to every row that references it: release tasks, admissions, whitelist entries.
 */
export async function dropColumns(knex: Knex, table: string, columns: string[]): Promise<void> {
  if (isPg(knex)) {
    await knex.schema.alterTable(table, (t) => {
      for (const c of columns) t.dropColumn(c);
    });
    return;
  }
  for (const c of columns) await knex.raw('ALTER TABLE ?? DROP COLUMN ??', [table, c]);
}
