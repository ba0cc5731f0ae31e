import type { Knex } from 'knex';

// One schema for PostgreSQL and SQLite: schema builder only, times as epoch
// milliseconds (bigint), JSON as text, ids below 2^53.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('tenants', (t) => {
    t.string('id', 64).primary();
    t.string('name', 200).notNullable();
    t.string('status', 16).notNullable().defaultTo('active');
    t.bigInteger('created_at').notNullable();
  });
  await knex.schema.createTable('apps', (t) => {
    t.string('app_id', 64).primary();
    t.string('tenant_id', 64).notNullable().references('id').inTable('tenants');
    t.string('name', 200).notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['tenant_id']);
  });
  await knex.schema.createTable('workspaces', (t) => {
    t.string('app_id', 64).notNullable().references('app_id').inTable('apps').onDelete('CASCADE');
    t.string('workspace_id', 64).notNullable();
    t.string('client_key', 64).notNullable().unique();
    t.bigInteger('created_at').notNullable();
    t.primary(['app_id', 'workspace_id']);
  });
  await knex.schema.createTable('access_keys', (t) => {
    t.string('id', 64).primary();
    t.string('tenant_id', 64).notNullable().references('id').inTable('tenants');
    t.text('secret_enc').notNullable();
    t.string('status', 16).notNullable().defaultTo('active');
    t.string('description', 200).notNullable().defaultTo('');
    t.bigInteger('expires_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['tenant_id']);
  });
  await knex.schema.createTable('request_nonces', (t) => {
    t.string('key_id', 64).notNullable();
    t.string('nonce', 128).notNullable();
    t.bigInteger('expires_at').notNullable();
    t.primary(['key_id', 'nonce']);
    t.index(['expires_at']);
  });
  await knex.schema.createTable('rate_windows', (t) => {
    t.string('key_id', 64).notNullable();
    t.bigInteger('window_start').notNullable();
    t.integer('count').notNullable();
    t.primary(['key_id', 'window_start']);
  });
  await knex.schema.createTable('vhosts', (t) => {
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('vhost', 255).notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['app_id', 'workspace_id']);
  });
  await knex.schema.createTable('rsa_keys', (t) => {
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.text('private_key_enc').notNullable();
    t.text('public_key_pem').notNullable();
    t.integer('bits').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.primary(['app_id', 'workspace_id']);
  });
  await knex.schema.createTable('nebula_apps', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('h5_id', 8).notNullable();
    t.string('h5_name', 200).notNullable();
    t.integer('resource_type').nullable();
    t.bigInteger('created_at').notNullable();
    t.unique(['app_id', 'workspace_id', 'h5_id']);
  });
  await knex.schema.createTable('nebula_resources', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('h5_id', 8).notNullable();
    t.string('h5_name', 200).notNullable();
    t.string('h5_version', 64).notNullable();
    t.integer('resource_type').notNullable();
    t.string('platform', 16).notNullable();
    t.string('client_version_min', 64).notNullable().defaultTo('');
    t.string('client_version_max', 64).notNullable().defaultTo('');
    t.string('main_url', 512).notNullable().defaultTo('');
    t.string('sub_url', 1024).notNullable().defaultTo('');
    t.string('vhost', 255).notNullable().defaultTo('');
    t.string('custom_domain_name', 255).notNullable().defaultTo('');
    t.text('extend_info').notNullable().defaultTo('');
    t.integer('auto_install').notNullable();
    t.integer('install_type').notNullable();
    t.integer('repeat_nebula').notNullable().defaultTo(0);
    t.string('amr_key', 512).notNullable();
    t.string('json_key', 512).notNullable();
    t.string('md5', 32).notNullable();
    t.bigInteger('file_size').notNullable();
    t.integer('publish_period').notNullable().defaultTo(0);
    t.string('release_version', 32).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('modified_at').notNullable();
    t.unique(['app_id', 'workspace_id', 'h5_id', 'h5_version']);
  });
  await knex.schema.createTable('nebula_tasks', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.integer('resource_id').notNullable().references('id').inTable('nebula_resources').onDelete('CASCADE');
    t.string('h5_id', 8).notNullable();
    t.integer('publish_type').notNullable();
    t.integer('publish_mode').notNullable();
    t.integer('task_status').notNullable();
    t.integer('task_type').notNullable().defaultTo(0);
    t.bigInteger('grey_endtime').nullable();
    t.integer('grey_num').notNullable().defaultTo(0);
    t.integer('grey_admitted').notNullable().defaultTo(0);
    t.text('grey_config_info').notNullable().defaultTo('');
    t.string('whitelist_ids', 1024).notNullable().defaultTo('');
    t.integer('percent').notNullable().defaultTo(0);
    t.string('seed', 64).notNullable().defaultTo('');
    t.string('memo', 1024).notNullable().defaultTo('');
    t.string('platform', 16).notNullable();
    t.bigInteger('task_version').notNullable();
    t.string('release_version', 32).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('modified_at').notNullable();
    t.index(['app_id', 'workspace_id', 'h5_id']);
    t.index(['resource_id']);
  });
  await knex.schema.createTable('grey_admissions', (t) => {
    t.integer('task_id').notNullable().references('id').inTable('nebula_tasks').onDelete('CASCADE');
    t.string('user_key', 256).notNullable();
    t.bigInteger('created_at').notNullable();
    t.primary(['task_id', 'user_key']);
  });
  await knex.schema.createTable('whitelists', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('name', 200).notNullable();
    t.string('type', 16).notNullable();
    t.integer('entry_count').notNullable().defaultTo(0);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('modified_at').notNullable();
    t.unique(['app_id', 'workspace_id', 'name']);
  });
  await knex.schema.createTable('whitelist_entries', (t) => {
    t.integer('whitelist_id').notNullable().references('id').inTable('whitelists').onDelete('CASCADE');
    t.string('value', 512).notNullable();
    t.primary(['whitelist_id', 'value']);
  });
  // Bumped in the same transaction as every change that alters what devices get.
  await knex.schema.createTable('change_stamps', (t) => {
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.bigInteger('stamp').notNullable();
    t.primary(['app_id', 'workspace_id']);
  });
  // Every stored object is registered here before it is written, so a janitor
  // can sweep objects whose owning row never committed (crash consistency).
  await knex.schema.createTable('blobs', (t) => {
    t.string('key', 512).primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('state', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['state', 'created_at']);
  });
  await knex.schema.createTable('audit_log', (t) => {
    t.increments('id').primary();
    t.string('request_id', 64).notNullable();
    t.string('tenant_id', 64).nullable();
    t.string('access_key_id', 64).nullable();
    t.string('action', 100).notNullable();
    t.text('params').notNullable();
    t.integer('http_status').notNullable();
    t.string('result_code', 100).notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['tenant_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of [
    'audit_log', 'blobs', 'change_stamps', 'whitelist_entries', 'whitelists', 'grey_admissions', 'nebula_tasks',
    'nebula_resources', 'nebula_apps', 'rsa_keys', 'vhosts', 'rate_windows', 'request_nonces', 'access_keys',
    'workspaces', 'apps', 'tenants',
  ]) {
    await knex.schema.dropTableIfExists(t);
  }
}
