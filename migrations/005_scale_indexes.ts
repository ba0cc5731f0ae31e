import type { Knex } from 'knex';

// Indexes for the queries as they are written, measured on 10M audit rows and 100k-task workspaces:
// - the audit list filters by tenant or action and pages by id (newest first); (tenant_id, created_at)
//   served neither, so a tenant with only old rows cost a backward scan of the whole table (2.8 s -> 0.5 ms);
// - delivery snapshots and upgrade plans load the releasing tasks of one app and workspace.
// On PostgreSQL they are built CONCURRENTLY, outside a transaction: a plain CREATE INDEX on a big audit_log
// would block every audited write of every node for the length of the build during a rolling deploy.
export const config = { transaction: false };

const INDEXES: Array<[table: string, columns: string[]]> = [
  ['audit_log', ['tenant_id', 'id']],
  ['audit_log', ['action', 'id']],
  ['nebula_tasks', ['app_id', 'workspace_id', 'task_status']],
  ['upgrade_tasks', ['app_id', 'workspace_id', 'task_status']],
];
const OLD: [string, string[]] = ['audit_log', ['tenant_id', 'created_at']];

/** knex's own name for an index, so the schema builder and the raw statements agree */
const nameOf = (table: string, columns: string[]) => `${table}_${columns.join('_')}_index`;
const isPg = (knex: Knex) => /^(pg|postgres)/.test(String(knex.client.config.client));

async function create(knex: Knex, [table, columns]: [string, string[]]) {
  if (isPg(knex)) await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ?? ON ?? (${columns.map(() => '??').join(', ')})`, [nameOf(table, columns), table, ...columns]);
  else await knex.schema.alterTable(table, (t) => t.index(columns, nameOf(table, columns)));
}

async function drop(knex: Knex, [table, columns]: [string, string[]]) {
  if (isPg(knex)) await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS ??', [nameOf(table, columns)]);
  else await knex.schema.alterTable(table, (t) => t.dropIndex(columns, nameOf(table, columns)));
}

export async function up(knex: Knex): Promise<void> {
  for (const ix of INDEXES) await create(knex, ix);
  await drop(knex, OLD);
}

export async function down(knex: Knex): Promise<void> {
  await create(knex, OLD);
  for (const ix of [...INDEXES].reverse()) await drop(knex, ix);
}
