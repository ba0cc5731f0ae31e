import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

// The folder of an offline package's unpacked copy (fallback_base_url), registered in blobs as one row; null for
// packages without one (global packages, no download base, MCUBE_PACKAGE_FALLBACK=off, and every earlier package).
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('nebula_resources', (t) => {
    t.string('fallback_key', 512).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'nebula_resources', ['fallback_key']);
}
