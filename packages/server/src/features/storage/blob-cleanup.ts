import type { ActionContext } from '../../core/registry.js';
import { claimForPurge, forgetPendingBlobs, forgetPurged } from '../../db/blob-registry.js';

/**
 * Undoes the objects an action reserved and wrote before its transaction
 * failed. Best effort: an object that cannot be removed now keeps its pending
 * row, and the janitor removes it later.
 */
export async function removeClaimedBlobs(ctx: ActionContext, keys: string[]): Promise<void> {
  const removed: string[] = [];
  for (const key of keys) {
    try {
      await ctx.deps.blobs.delete(key);
      removed.push(key);
    } catch (e) {
      deferred(ctx, key, e);
    }
  }
  await forgetPendingBlobs(ctx.deps.db.knex, removed).catch(() => {});
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
