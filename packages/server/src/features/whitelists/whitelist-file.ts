import { createReadStream, type ReadStream } from 'node:fs';
import { join } from 'node:path';
import type { ActionContext } from '../../core/registry.js';
import { withWorkDir } from '../nebula/work-dir.js';
import { copyUploadedObject, resolveUploadedObject } from '../storage/index.js';

/**
 * Runs `fn` with an opener of an uploaded whitelist file (OssUrl). The file is
 * checked (one of the caller's uploads in our own store, at most
 * MCUBE_WHITELIST_IMPORT_MAX_BYTES; nothing else is ever fetched) and copied
 * to a work folder before `fn` starts its transaction: streamed from storage
 * inside it, a slow read held the list locked (and on SQLite the one
 * connection every signed call needs) for as long as the transfer took. The
 * import still streams the local copy, so it never holds the file whole.
 */
export async function withWhitelistFile<T>(ctx: ActionContext, ossUrl: string, fn: (open: () => Promise<AsyncIterable<Buffer>>) => Promise<T>): Promise<T> {
  const maxBytes = ctx.deps.config.whitelists.importMaxBytes;
  const upload = await resolveUploadedObject(ctx.deps, ctx, ossUrl, { maxBytes, field: 'OssUrl' });
  return withWorkDir(ctx.deps, 'whitelist-', async (dir) => {
    const path = join(dir, 'ids.txt');
    await copyUploadedObject(ctx.deps, upload, path, { maxBytes, field: 'OssUrl', fileUrl: ossUrl });
    // closed whatever happens: an import that fails before reading the file must not keep it open
    let stream: ReadStream | undefined;
    try {
      return await fn(async () => (stream = createReadStream(path)));
    } finally {
      stream?.destroy();
    }
  });
}
