import type { BlobStore } from '../../core/blob-store.js';
import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';
import { claimForPurge, forgetPurged, isFolderKey, releaseReservation } from '../../db/blob-registry.js';
import { assertSafeDir } from './key-rules.js';

/** A key an action reserved for writing, with the owner token reserveBlob gave it. */
export interface Reservation {
  key: string;
  owner: string;
}

/**
 * Removes what a registry row stands for: one object, or every object under a
 * folder row (key ending in "/"). A folder removal that fails midway leaves the
 * row claimed, and the next attempt lists what is left. Returns how many objects went.
 */
export async function removeStored(blobs: BlobStore, key: string): Promise<number> {
  if (!isFolderKey(key)) {
    await blobs.delete(key);
    return 1;
  }
  // listed first, then deleted: a listing is not read while its folder changes (a package holds at most MCUBE_ZIP_MAX_ENTRIES)
  const keys: string[] = [];
  for await (const obj of blobs.list(assertSafeDir(key))) keys.push(obj.key);
  await blobs.deleteMany(keys);
  return keys.length;
}

/**
 * Undoes the objects an action reserved and wrote before its transaction
 * failed, each claimed first: a reservation the janitor swept meanwhile (and
 * another writer may hold now) is left alone. Best effort: an object that
 * cannot be removed now stays claimed, and the janitor removes it later.
 */
export async function removeClaimedBlobs(ctx: ActionContext, claims: Reservation[]): Promise<void> {
  const { knex } = ctx.deps.db;
  for (const { key, owner } of claims) {
    try {
      if (!(await releaseReservation(knex, key, owner, ctx.deps.now()))) continue;
      await removeStored(ctx.deps.blobs, key);
      await forgetPurged(knex, key);
    } catch (e) {
      deferred(ctx, key, e);
    }
  }
}

/**
 * Removes the objects a committed delete marked with dropBlobs(). Best effort,
 * as above: what fails now stays claimed ("purging") and the janitor takes it
 * up after its grace period.
 */
export async function removeDroppedBlobs(ctx: ActionContext, keys: string[]): Promise<void> {
  const { knex } = ctx.deps.db;
  for (const key of keys) {
    try {
      // A key re-claimed by a newer package in the meantime is no longer ours to delete.
      if (!(await claimForPurge(knex, key, ctx.deps.now()))) continue;
      await removeStored(ctx.deps.blobs, key);
      await forgetPurged(knex, key);
    } catch (e) {
      deferred(ctx, key, e);
    }
  }
}

const deferred = (ctx: ActionContext, key: string, e: unknown) =>
  ctx.deps.log.warn('object removal deferred to the janitor', { requestId: ctx.requestId, key, error: (e as Error).message });

/** A build whose reservation the janitor swept (ReservationLost): said as a business error the caller can act on. */
export function buildExpired(): BusinessError {
  return new BusinessError(
    'BuildExpired',
    'The files were stored after the janitor had given them up: the build took longer than MCUBE_JANITOR_GRACE_SEC. Nothing was created; try again (and raise the grace period if builds are that slow).',
  );
}
