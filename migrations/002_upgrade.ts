import type { Knex } from 'knex';

// Upgrade packages (APK / IPA / HAP or App Store links) and their release tasks (guide §4).
// Same conventions as 001: schema builder only, times as epoch ms, JSON as text.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('upgrade_packages', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.string('platform', 16).notNullable();
    t.string('package_type', 16).notNullable();
    t.string('app_version', 64).notNullable();
    t.string('file_key', 512).notNullable().defaultTo('');
    t.string('file_name', 255).notNullable().defaultTo('');
    t.string('md5', 32).notNullable().defaultTo('');
    t.bigInteger('file_size').notNullable().defaultTo(0);
    t.string('download_url', 2048).notNullable().defaultTo('');
    t.string('appstore_url', 2048).notNullable().defaultTo('');
    t.string('icon_key', 512).notNullable().defaultTo('');
    t.string('large_icon_url', 2048).notNullable().defaultTo('');
    t.string('symbol_key', 512).notNullable().defaultTo('');
    t.string('bundle_id', 255).notNullable().defaultTo('');
    t.string('harmony_label', 255).notNullable().defaultTo('');
    t.string('custom_domain_name', 255).notNullable().defaultTo('');
    t.text('description').notNullable().defaultTo('');
    t.integer('is_enterprise').notNullable().defaultTo(0);
    t.integer('need_check').notNullable().defaultTo(0);
    t.string('verification_code', 16).notNullable().defaultTo('');
    t.integer('valid_days').notNullable().defaultTo(0);
    t.integer('install_amount').notNullable().defaultTo(0);
    t.integer('publish_period').notNullable().defaultTo(0);
    t.string('creator', 64).notNullable().defaultTo('');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('modified_at').notNullable();
    t.unique(['app_id', 'workspace_id', 'platform', 'package_type', 'app_version']);
  });
  await knex.schema.createTable('upgrade_tasks', (t) => {
    t.increments('id').primary();
    t.string('app_id', 64).notNullable();
    t.string('workspace_id', 64).notNullable();
    t.integer('package_id').notNullable().references('id').inTable('upgrade_packages').onDelete('CASCADE');
    t.string('platform', 16).notNullable();
    t.integer('publish_type').notNullable();
    t.integer('publish_mode').notNullable();
    t.integer('task_status').notNullable();
    t.integer('upgrade_type').notNullable();
    t.integer('history_force').notNullable().defaultTo(0);
    t.bigInteger('grey_endtime').nullable();
    t.integer('grey_num').notNullable().defaultTo(0);
    t.integer('grey_admitted').notNullable().defaultTo(0);
    t.text('grey_config_info').notNullable().defaultTo('');
    t.string('whitelist_ids', 1024).notNullable().defaultTo('');
    t.string('memo', 1024).notNullable().defaultTo('');
    t.text('upgrade_content').notNullable().defaultTo('');
    t.string('creator', 64).notNullable().defaultTo('');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('modified_at').notNullable();
    t.index(['app_id', 'workspace_id']);
    t.index(['package_id']);
  });
  // Time-window admissions of upgrade tasks: one row per (task, user), as grey_admissions for offline packages.
  await knex.schema.createTable('upgrade_admissions', (t) => {
    t.integer('task_id').notNullable().references('id').inTable('upgrade_tasks').onDelete('CASCADE');
    t.string('user_key', 256).notNullable();
    t.bigInteger('created_at').notNullable();
    t.primary(['task_id', 'user_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const t of ['upgrade_admissions', 'upgrade_tasks', 'upgrade_packages']) await knex.schema.dropTableIfExists(t);
}
