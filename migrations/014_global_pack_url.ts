import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

// A global package's sample file URL (h5.json's global_pack_url), so the device answer carries the same entry as
// the package's h5.json; null for normal packages, mini programs, and global packages from before this migration.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('nebula_resources', (t) => {
    t.text('global_pack_url').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'nebula_resources', ['global_pack_url']);
}
