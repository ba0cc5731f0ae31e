import type { Knex } from 'knex';
import { createIndex, dropIndex, type IndexSpec } from './concurrent-index.js';

// Indexes for the queries as they are written, measured on 10M audit rows and 100k-task workspaces:
// - the audit list filters by tenant or action and pages by id (newest first); (tenant_id, created_at)
//   served neither, so a tenant with only old rows cost a backward scan of the whole table (2.8 s -> 0.5 ms);
// - delivery snapshots and upgrade plans load the releasing tasks of one app and workspace.
// On PostgreSQL they are built CONCURRENTLY, outside a transaction: a plain CREATE INDEX on a big audit_log
// would block every audited write of every node for the length of the build during a rolling deploy.
export const config = { transaction: false };

const INDEXES: IndexSpec[] = [
  ['audit_log', ['tenant_id', 'id']],
  ['audit_log', ['action', 'id']],
  ['nebula_tasks', ['app_id', 'workspace_id', 'task_status']],
  ['upgrade_tasks', ['app_id', 'workspace_id', 'task_status']],
];
const OLD: IndexSpec = ['audit_log', ['tenant_id', 'created_at']];

export async function up(knex: Knex): Promise<void> {
  for (const ix of INDEXES) await createIndex(knex, ix);
  await dropIndex(knex, OLD);
}

export async function down(knex: Knex): Promise<void> {
  await createIndex(knex, OLD);
  for (const ix of [...INDEXES].reverse()) await dropIndex(knex, ix);
}
