import type { Knex } from 'knex';

// Switch configuration (guide §6): a key with ordered values, each delivered by platform, whitelist or
// percentage and advanced rules; a device gets, per enabled key, the first value it matches.
// Same conventions as 001: schema builder only, times as epoch ms, JSON as text.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('switch_configs', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('config_key', 128).notNullable();
    t.string('note', 512).notNullable().defaultTo('');
    t.integer('enabled').notNullable().defaultTo(1);
    t.string('creator', 64).notNullable().defaultTo('');
    t.string('modifier', 64).notNullable().defaultTo('');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('modified_at').notNullable();
    t.unique(['app_id', 'workspace_id', 'config_key']);
  });
  await knex.schema.createTable('switch_config_values', (t) => {
    t.increments('id').primary();
    t.integer('config_id').notNullable().references('id').inTable('switch_configs').onDelete('CASCADE');
    // copied from the key, so the whitelist in-use check and the device plans read one table by scope
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.integer('position').notNullable();
    t.text('value').notNullable();
    t.string('platform', 16).notNullable();
    t.string('delivery', 16).notNullable();
    t.string('whitelist_ids', 1024).notNullable().defaultTo('');
    t.integer('percent_buckets').notNullable().defaultTo(0);
    t.text('rules').notNullable().defaultTo('');
    t.unique(['config_id', 'position']);
    t.index(['app_id', 'workspace_id']);
  });
}

// Going back would lose the keys without a word (older code never reads them), so it is refused while any exists.
export async function down(knex: Knex): Promise<void> {
  const kept = await knex('switch_configs').first('config_key');
  if (kept) throw new Error(`migration 013 cannot be undone while switch keys exist (e.g. ${kept.config_key}); save them with ExportMcubeSwitchConfigs and delete them first`);
  await knex.schema.dropTable('switch_config_values');
  await knex.schema.dropTable('switch_configs');
}
