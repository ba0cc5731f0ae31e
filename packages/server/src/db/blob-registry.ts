import type { Knex } from 'knex';

/**
 * Crash-consistency protocol for stored objects:
 * 1. reserveBlob() commits a 'pending' row BEFORE the object is written;
 * 2. the object is written to the blob store;
 * 3. commitBlob() marks it 'live' INSIDE the transaction that inserts the row
 *    pointing at it (resource, key, ...).
 * A crash anywhere leaves either nothing, or a 'pending' row whose object the
 * janitor deletes; never a committed row pointing at a missing object.
 * Removing an object whose row went: dropBlobs() marks it 'deleted'; whoever
 * removes it first claims it ('deleted' -> 'purging'), so a writer that took
 * the key over meanwhile (a re-created version has the same key) is never
 * robbed of its new object, and a writer cannot take over a key being purged.
 */

/**
 * Claims a key for writing. A new key is inserted; a key whose object awaits
 * deletion is taken over by a conditional update. A key that is live or being
 * written by another request is never taken (false), so two writers never own
 * one key and a failed writer's cleanup cannot delete the winner's object.
 */
export async function reserveBlob(knex: Knex, key: string, appId: string, workspaceId: string, now: number): Promise<boolean> {
  const scope = { app_id: appId, workspace_id: workspaceId };
  const inserted = (await knex('blobs').insert({ key, ...scope, state: 'pending', created_at: now }).onConflict('key').ignore().returning('key')) as unknown[];
  if (inserted.length) return true;
  return (await knex('blobs').where({ key, state: 'deleted' }).update({ state: 'pending', created_at: now, ...scope })) === 1;
}

export async function commitBlob(trx: Knex | Knex.Transaction, key: string): Promise<void> {
  const n = await trx('blobs').where({ key }).update({ state: 'live' });
  if (n !== 1) throw new Error(`blob ${key} was not reserved`);
}

/** Marks objects for deletion (their owning rows are gone or going in the same transaction). */
export async function dropBlobs(trx: Knex | Knex.Transaction, keys: string[], now: number): Promise<void> {
  if (keys.length) await trx('blobs').whereIn('key', keys).update({ state: 'deleted', created_at: now });
}

/** Forgets pending rows whose objects were removed again (an aborted write). */
export async function forgetPendingBlobs(knex: Knex, keys: string[]): Promise<void> {
  if (keys.length) await knex('blobs').whereIn('key', keys).where({ state: 'pending' }).delete();
}

/**
 * Claims an object marked for deletion before it is removed: false when it is
 * no longer 'deleted' (a writer took the key over, or another node claimed it).
 */
export async function claimForPurge(knex: Knex, key: string, now: number): Promise<boolean> {
  return (await knex('blobs').where({ key, state: 'deleted' }).update({ state: 'purging', created_at: now })) === 1;
}

/** Forgets a claimed row whose object is gone. A claim whose remover died is taken up by the janitor after its grace period. */
export async function forgetPurged(knex: Knex, key: string): Promise<void> {
  await knex('blobs').where({ key, state: 'purging' }).delete();
}
