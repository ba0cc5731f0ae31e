import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

// Who holds a reservation: the writer that reserved a key commits it, or removes its object, only while
// the row is still its own. The janitor may have swept a reservation whose build outlasted the grace
// period (and another writer may hold the key since); the old writer then neither commits a row whose
// object another build wrote nor deletes that build's object.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('blobs', (t) => {
    t.string('owner', 64).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'blobs', ['owner']);
}
