import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

// When an offline-package task was released (0 -> 1, or created releasing): among tasks of one type for one
// version, the latest released prevails (guide §4.3). Null for rows from before: their creation time stands in.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('nebula_tasks', (t) => {
    t.bigInteger('released_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await dropColumns(knex, 'nebula_tasks', ['released_at']);
}
