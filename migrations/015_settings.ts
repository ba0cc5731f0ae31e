import type { Knex } from 'knex';

// Values a cluster agrees on, one row each. The first is master_key_check, a known text sealed with the master key
// by the first node that starts: every later node, also one starting at the same moment on an empty database,
// opens it or refuses to start (a node with another key would seal secrets the others cannot open).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settings', (t) => {
    t.string('name', 64).primary();
    t.text('value').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('settings');
}
