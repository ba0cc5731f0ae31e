import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

// A change log per whitelist, so a node that holds a big list applies a small change to it instead of
// reading the whole list again (a million ids took about a second of every node's CPU per one-id change).
// change_seq counts the list's changes; a change logs its values under the seqs it took. A change too big
// to log takes a seq with no row: the gap tells a node to read the whole list. See whitelist-store.ts.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('whitelists', (t) => {
    t.bigInteger('change_seq').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('whitelist_changes', (t) => {
    t.integer('whitelist_id').notNullable().references('id').inTable('whitelists').onDelete('CASCADE');
    t.bigInteger('seq').notNullable();
    t.string('value', 512).notNullable();
    /** 1: added, 0: removed */
    t.smallint('added').notNullable();
    t.primary(['whitelist_id', 'seq']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('whitelist_changes');
  await dropColumns(knex, 'whitelists', ['change_seq']);
}
