import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';
import { dropBlobs } from '../../db/blob-registry.js';
import { bumpStamp } from '../../db/stamps.js';
import { kindOfId, WORDS, type Kind } from './kinds.js';
import { deleteAppCascade, findApp, insertAppIfMissing, listApps } from './nebula-store.js';
import type { NebulaApp } from './nebula-types.js';
import { invalid } from './rules/field-error.js';
import { checkH5Id, checkMiniId } from './rules/h5-id.js';
import { removeDroppedBlobs } from '../storage/index.js';

export function checkH5Name(raw: string | undefined, h5Id: string): string {
  const name = (raw ?? '').trim();
  if (name.length > 200) throw invalid('H5Name', 'is longer than 200 characters.');
  return name || h5Id;
}

/** Creates an H5 app; returns the guide's warning for a discouraged id, if any. */
export async function createApp(ctx: ActionContext, h5IdRaw: string | undefined, h5NameRaw: string | undefined, kind: Kind = 'nebula'): Promise<{ warning: string | null }> {
  const { h5Id, warning } = kind === 'mini' ? checkMiniId(h5IdRaw) : checkH5Id(h5IdRaw);
  if (!(h5NameRaw ?? '').trim()) throw invalid('H5Name', `is required: the display name of the ${WORDS[kind].app}.`);
  const h5Name = checkH5Name(h5NameRaw, h5Id);
  const created = await insertAppIfMissing(ctx.deps.db.knex, ctx, h5Id, h5Name, ctx.deps.now());
  if (!created) throw new BusinessError(kind === 'mini' ? 'MiniAppExists' : 'NebulaAppExists', `H5Id: the ${WORDS[kind].app} ${h5Id} already exists.`);
  if (warning) ctx.deps.log.warn('discouraged H5 app id', { requestId: ctx.requestId, appId: ctx.appId, h5Id, warning });
  return { warning };
}

export async function pageOfApps(ctx: ActionContext, keyword: string, pageNum: number, pageSize: number, kind: Kind = 'nebula'): Promise<{ total: number; apps: NebulaApp[] }> {
  return listApps(ctx.deps.db.knex, ctx, kind, keyword.trim(), (pageNum - 1) * pageSize, pageSize);
}

/**
 * Deletes an H5 app with all its packages, tasks and admissions in one
 * transaction that also marks their objects deleted and moves the delivery
 * stamp; the objects themselves are removed after commit (best effort: the
 * janitor removes whatever is left in state "deleted").
 */
export async function deleteApp(ctx: ActionContext, h5IdRaw: string | undefined, kind: Kind = 'nebula'): Promise<void> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  if (!(h5IdRaw ?? '').trim()) throw invalid('H5Id', 'is required.');
  const h5Id = h5IdRaw!.trim();
  const words = WORDS[kind];
  const keys = await knex.transaction(async (trx) => {
    const app = kindOfId(h5Id) === kind ? await findApp(trx, ctx, h5Id, dialect === 'pg') : null;
    if (!app) throw new BusinessError(words.appNotFound, `H5Id: no ${words.app} ${h5Id} in this app and workspace.`);
    const keys = await deleteAppCascade(trx, dialect, ctx, h5Id, deps.now());
    await dropBlobs(trx, keys, deps.now());
    await bumpStamp(trx, dialect, ctx.appId, ctx.workspaceId);
    return keys;
  });
  deps.onDeliveryChange(ctx.appId, ctx.workspaceId);
  await removeDroppedBlobs(ctx, keys);
}
