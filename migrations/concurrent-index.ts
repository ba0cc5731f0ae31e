import type { Knex } from 'knex';

// Index helpers shared by migrations (not a migration itself). On PostgreSQL an index is built CONCURRENTLY,
// outside a transaction (the migration sets config.transaction = false): a plain CREATE INDEX on a big table
// would block every write of every node for the length of the build during a rolling deploy.

export type IndexSpec = [table: string, columns: string[]];

/** knex's own name for an index, so the schema builder and the raw statements agree */
const nameOf = (table: string, columns: string[]) => `${table}_${columns.join('_')}_index`;
const isPg = (knex: Knex) => /^(pg|postgres)/.test(String(knex.client.config.client));

export async function createIndex(knex: Knex, [table, columns]: IndexSpec): Promise<void> {
  const name = nameOf(table, columns);
  if (!isPg(knex)) return void (await knex.schema.alterTable(table, (t) => t.index(columns, name)));
  await buildConcurrently(knex, name, table, columns.map(() => '??').join(', '), columns);
}

/**
 * An index over `definition`, raw SQL that may hold expressions (e.g. `app_id, (length(h5_id)), id`); the
 * queries it serves must spell each expression the same way for either database to use it.
 */
export async function createExpressionIndex(knex: Knex, name: string, table: string, definition: string): Promise<void> {
  if (!isPg(knex)) return void (await knex.raw(`CREATE INDEX IF NOT EXISTS ?? ON ?? (${definition})`, [name, table]));
  await buildConcurrently(knex, name, table, definition, []);
}

export async function dropNamedIndex(knex: Knex, name: string): Promise<void> {
  await knex.raw(isPg(knex) ? 'DROP INDEX CONCURRENTLY IF EXISTS ??' : 'DROP INDEX IF EXISTS ??', [name]);
}

async function buildConcurrently(knex: Knex, name: string, table: string, definition: string, bindings: string[]): Promise<void> {
  // A concurrent build that was interrupted (the node stopped, a deadlock) leaves the index INVALID: present,
  // so IF NOT EXISTS would skip it for good, but never used. Such a leftover is dropped and built again.
  const { rows } = await knex.raw('SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = ? AND pg_table_is_visible(c.oid)', [name]);
  if (rows.length && !rows[0].valid) await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS ??', [name]);
  await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ?? ON ?? (${definition})`, [name, table, ...bindings]);
}

export async function dropIndex(knex: Knex, [table, columns]: IndexSpec): Promise<void> {
  if (isPg(knex)) await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS ??', [nameOf(table, columns)]);
  else await knex.schema.alterTable(table, (t) => t.dropIndex(columns, nameOf(table, columns)));
}
