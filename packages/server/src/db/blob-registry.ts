import { randomUUID } from 'node:crypto';
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
 * the key over meanwhile is never robbed of its new object, and a writer cannot
 * take over a key being purged. Every removal claims its row first, in one
 * conditional statement (the janitor's sweeps included), and a writer commits
 * or releases only its own reservation (owner token).
 */

/**
 * A row whose key ends in "/" stands for a folder: every object under it is the
 * row's (a package's unpacked fallback copy, thousands of files, is one row).
 */
export const isFolderKey = (key: string): boolean => key.endsWith('/');

/** Segment (0-based) of an offline package's fallback folder: pkg/<app>/<ws>/<h5Id>/<build>/<version>_<platform>/nebula/fallback/. */
const FALLBACK_SEGMENT = 7;

/** The folder row an object belongs to (its package's fallback folder), or null when the object is a row of its own. */
export function folderOf(key: string): string | null {
  const segments = key.split('/');
  if (segments[0] !== 'pkg' || segments.length <= FALLBACK_SEGMENT + 1) return null;
  if (segments[FALLBACK_SEGMENT - 1] !== 'nebula' || segments[FALLBACK_SEGMENT] !== 'fallback') return null;
  return segments.slice(0, FALLBACK_SEGMENT + 1).join('/') + '/';
}

/**
 * Claims a key for writing. A new key is inserted; a key whose object awaits
 * deletion is taken over by a conditional update. A key that is live or being
 * written by another request is never taken (null), so two writers never own
 * one key. Returns the reservation's owner token: commitBlob and
 * releaseReservation act only while the row is still that reservation (the
 * janitor sweeps reservations older than its grace period, and the key may be
 * another writer's by then).
 */
export async function reserveBlob(knex: Knex, key: string, appId: string, workspaceId: string, now: number): Promise<string | null> {
  const scope = { app_id: appId, workspace_id: workspaceId };
  const owner = randomUUID();
  const inserted = (await knex('blobs').insert({ key, ...scope, state: 'pending', created_at: now, owner }).onConflict('key').ignore().returning('key')) as unknown[];
  if (inserted.length) return owner;
  const taken = await knex('blobs').where({ key, state: 'deleted' }).update({ state: 'pending', created_at: now, owner, ...scope });
  return taken === 1 ? owner : null;
}

/** The reservation of a key was swept (its build outlasted the janitor's grace period): nothing may point at the key. */
export class ReservationLost extends Error {
  constructor(readonly key: string) {
    super(`the reservation of ${key} is gone (the janitor sweeps reservations older than MCUBE_JANITOR_GRACE_SEC)`);
  }
}

/** Marks the writer's reservation live, inside the transaction that inserts the row pointing at it. */
export async function commitBlob(trx: Knex | Knex.Transaction, key: string, owner: string): Promise<void> {
  const n = await trx('blobs').where({ key, state: 'pending', owner }).update({ state: 'live' });
  if (n !== 1) throw new ReservationLost(key);
}

/** Hands an object no row tracks (an upload) to the janitor, which removes it at its next run; a tracked key is left as it is. */
export async function dropUntracked(knex: Knex, key: string, appId: string, workspaceId: string, now: number): Promise<void> {
  await knex('blobs').insert({ key, app_id: appId, workspace_id: workspaceId, state: 'deleted', created_at: now }).onConflict('key').ignore();
}

/** Marks objects for deletion (their owning rows are gone or going in the same transaction). */
export async function dropBlobs(trx: Knex | Knex.Transaction, keys: string[], now: number): Promise<void> {
  if (keys.length) await trx('blobs').whereIn('key', keys).update({ state: 'deleted', created_at: now });
}

/**
 * A writer giving up claims its own reservation for removal ('pending' -> 'purging');
 * false when the row is no longer its reservation: the object under the key is then
 * not the writer's to delete (the orphan sweep takes it when no row claims it).
 */
export async function releaseReservation(knex: Knex, key: string, owner: string, now: number): Promise<boolean> {
  return (await knex('blobs').where({ key, state: 'pending', owner }).update({ state: 'purging', created_at: now })) === 1;
}

/**
 * Claims an object marked for deletion before it is removed: false when it is
 * no longer 'deleted' (a writer took the key over, or another node claimed it).
 */
export async function claimForPurge(knex: Knex, key: string, now: number): Promise<boolean> {
  return (await knex('blobs').where({ key, state: 'deleted' }).update({ state: 'purging', created_at: now })) === 1;
}

/**
 * The janitor claims a row left by a writer or a remover that died ('pending' or 'purging'
 * since before `olderThan`): false when it moved meanwhile (committed, taken over, claimed).
 */
export async function claimStale(knex: Knex, key: string, state: 'pending' | 'purging', olderThan: number, now: number): Promise<boolean> {
  return (await knex('blobs').where({ key, state }).andWhere('created_at', '<=', olderThan).update({ state: 'purging', created_at: now })) === 1;
}

/**
 * Claims an object no row knows, before it is removed, by inserting its 'purging' row: false
 * when a row appeared (a writer reserved the key since it was listed). A writer cannot take
 * over a purging key, so the object removed is never one a writer has just written.
 */
export async function claimOrphan(knex: Knex, key: string, now: number): Promise<boolean> {
  const [, appId = '', workspaceId = ''] = key.split('/');
  const inserted = (await knex('blobs').insert({ key, app_id: appId, workspace_id: workspaceId, state: 'purging', created_at: now }).onConflict('key').ignore().returning('key')) as unknown[];
  return inserted.length === 1;
}

/** Forgets a claimed row whose object is gone. A claim whose remover died is taken up by the janitor after its grace period. */
export async function forgetPurged(knex: Knex, key: string): Promise<void> {
  await knex('blobs').where({ key, state: 'purging' }).delete();
}
