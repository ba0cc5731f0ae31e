import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

const isPg = (knex: Knex) => /^(pg|postgres)/.test(String(knex.client.config.client));
const H5_ID_TABLES = ['nebula_apps', 'nebula_resources', 'nebula_tasks'] as const;

// Mini programs are Nebula packages under a 16-digit id (the vendor console's rule; offline-package ids have 8), so
// the id alone tells the two apart. A mini package keeps the console's package type (test or official) and the
// fields the mini actions take that offline packages lack.
// SQLite does not enforce varchar lengths, so only PostgreSQL needs the wider id (a length increase rewrites nothing).
export async function up(knex: Knex): Promise<void> {
  if (isPg(knex)) for (const t of H5_ID_TABLES) await knex.raw('ALTER TABLE ?? ALTER COLUMN h5_id TYPE varchar(16)', [t]);
  await knex.schema.alterTable('nebula_resources', (t) => {
    t.integer('package_type').nullable();
    t.text('mini_info').nullable();
  });
}

// Code from before this migration would take mini programs for offline packages, so going back is refused while
// any exists (DeleteMcubeMiniApp removes them).
export async function down(knex: Knex): Promise<void> {
  const mini = await knex('nebula_apps').whereRaw('length(h5_id) = 16').first('h5_id');
  const pkg = await knex('nebula_resources').whereRaw('length(h5_id) = 16').first('h5_id');
  if (mini || pkg) throw new Error(`migration 011 cannot be undone while mini programs exist (e.g. ${(mini ?? pkg).h5_id}); delete them with DeleteMcubeMiniApp first`);
  await dropColumns(knex, 'nebula_resources', ['mini_info', 'package_type']);
  if (isPg(knex)) for (const t of H5_ID_TABLES) await knex.raw('ALTER TABLE ?? ALTER COLUMN h5_id TYPE varchar(8)', [t]);
}
