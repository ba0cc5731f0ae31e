import type { ActionContext } from '../../core/registry.js';
import { resolveUploadedObject } from '../storage/index.js';

/**
 * Checks an uploaded whitelist file (OssUrl) before any transaction starts: it
 * must be one of the caller's uploads in our own store and at most
 * MCUBE_WHITELIST_IMPORT_MAX_BYTES; nothing else is ever fetched. Returns an
 * opener that streams it, so the import never holds the file whole.
 */
export async function whitelistFileOpener(ctx: ActionContext, ossUrl: string): Promise<() => Promise<AsyncIterable<Buffer>>> {
  const { key } = await resolveUploadedObject(ctx.deps, ctx, ossUrl, { maxBytes: ctx.deps.config.whitelists.importMaxBytes, field: 'OssUrl' });
  return () => ctx.deps.blobs.getStream(key);
}
