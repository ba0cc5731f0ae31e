import type { Knex } from 'knex';

// H5 apps deleted with DeleteMcubeNebulaApp, per workspace, until the same H5 id is created again: a device that
// reports one of them installed is told to remove it (removeAppIdList). Without the record the server could not
// tell a deleted app from a preset package or an app it never managed, and must never remove those.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('removed_h5_apps', (t) => {
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('h5_id', 64).notNullable();
    t.bigInteger('removed_at').notNullable();
    t.primary(['app_id', 'workspace_id', 'h5_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('removed_h5_apps');
}
