import type { Knex } from 'knex';

/**
 * Crash-consistency protocol for stored objects:
 * 1. reserveBlob() commits a 'pending' row BEFORE the object is written;
 * 2. the object is written to the blob store;
 * 3. commitBlob() marks it 'live' INSIDE the transaction that inserts the row
 *    pointing at it (resource, key, ...).
 * A crash anywhere leaves either nothing, or a 'pending' row whose object the
 * janitor deletes; never a committed row pointing at a missing object.
 */
export async function reserveBlob(knex: Knex, key: string, appId: string, workspaceId: string, now: number): Promise<void> {
  await knex('blobs').insert({ key, app_id: appId, workspace_id: workspaceId, state: 'pending', created_at: now }).onConflict('key').merge({ state: 'pending', created_at: now });
}

export async function commitBlob(trx: Knex | Knex.Transaction, key: string): Promise<void> {
  const n = await trx('blobs').where({ key }).update({ state: 'live' });
  if (n !== 1) throw new Error(`blob ${key} was not reserved`);
}

/** Marks objects for deletion (their owning rows are gone or going in the same transaction). */
export async function dropBlobs(trx: Knex | Knex.Transaction, keys: string[], now: number): Promise<void> {
  if (keys.length) await trx('blobs').whereIn('key', keys).update({ state: 'deleted', created_at: now });
}
