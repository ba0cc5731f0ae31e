import type { Knex } from 'knex';
import { dropColumns } from './drop-columns.js';

// A workspace's device client key can be rotated: the previous key keeps working until previous_key_expires_at
// (epoch ms), so apps in the field move over without losing updates.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.string('previous_client_key', 64).nullable();
    t.bigInteger('previous_key_expires_at').nullable();
    t.index(['previous_client_key']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('workspaces', (t) => {
    t.dropIndex(['previous_client_key']);
  });
  await dropColumns(knex, 'workspaces', ['previous_client_key', 'previous_key_expires_at']);
}
