import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';
import { claimForPurge, forgetPurged, releaseReservation } from '../../db/blob-registry.js';

/** A key an action reserved for writing, with the owner token reserveBlob gave it. */
export interface Reservation {
  key: string;
  owner: string;
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
      await ctx.deps.blobs.delete(key);
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
      await ctx.deps.blobs.delete(key);
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
