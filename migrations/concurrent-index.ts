import type { Knex } from 'knex';

// Index helpers shared by migrations (not a migration itself). On PostgreSQL an index is built CONCURRENTLY,
// outside a transaction (the migration sets config.transaction = false): a plain CREATE INDEX on a big table
// would block every write of every node for the length of the build during a rolling deploy.

export type IndexSpec = [table: string, columns: string[]];

/** knex's own name for an index, so the schema builder and the raw statements agree */
const nameOf = (table: string, columns: string[]) => `${table}_${columns.join('_')}_index`;
const isPg = (knex: Knex) => /^(pg|postgres)/.test(String(knex.client.config.client));

export async function createIndex(knex: Knex, [table, columns]: IndexSpec): Promise<void> {
  if (isPg(knex)) await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ?? ON ?? (${columns.map(() => '??').join(', ')})`, [nameOf(table, columns), table, ...columns]);
  else await knex.schema.alterTable(table, (t) => t.index(columns, nameOf(table, columns)));
}

export async function dropIndex(knex: Knex, [table, columns]: IndexSpec): Promise<void> {
  if (isPg(knex)) await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS ??', [nameOf(table, columns)]);
  else await knex.schema.alterTable(table, (t) => t.dropIndex(columns, nameOf(table, columns)));
}
