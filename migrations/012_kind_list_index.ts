import type { Knex } from 'knex';
import { createExpressionIndex, dropNamedIndex } from './concurrent-index.js';

// Offline-package and mini program lists page a workspace newest first for one kind of package, told apart by the
// id's length (011). The (app_id, workspace_id, id) index of 007 holds no h5_id: SQLite read the table row of every
// package it skipped (a deep page of 180k packages: 45-84 ms of one synchronous statement instead of 8-11 ms, and an
// empty mini program list read the whole workspace), and PostgreSQL, which keeps no statistics on length(h5_id),
// planned a sequential scan and a sort spilling to disk (262-305 ms instead of 43-64 ms). With the kind in the index
// both walk it in order again; it also gives PostgreSQL the statistics of the expression.
export const config = { transaction: false };

const NAME = 'nebula_resources_kind_id_index';

export async function up(knex: Knex): Promise<void> {
  await createExpressionIndex(knex, NAME, 'nebula_resources', 'app_id, workspace_id, (length(h5_id)), id');
}

export async function down(knex: Knex): Promise<void> {
  await dropNamedIndex(knex, NAME);
}
