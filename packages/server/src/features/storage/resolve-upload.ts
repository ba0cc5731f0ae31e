import { BlobNotFoundError, BlobTooLargeError } from '../../core/blob-store.js';
import { BusinessError } from '../../core/errors.js';
import type { ActionContext, Deps } from '../../core/registry.js';

/** Business error codes resolveUploadedObject raises; list them in an action's `errors`. */
export const FILE_URL_ERRORS = ['InvalidFileUrl', 'FileNotFound', 'FileTooLarge'];

type Scope = Pick<ActionContext, 'tenantId' | 'appId' | 'workspaceId'>;

/** Where the caller's uploads live: every upload token issued to this app and workspace points below it. */
export function uploadPrefix(ctx: Scope): string {
  // Separate segments: app and workspace ids may themselves contain "-".
  return `uploads/${ctx.tenantId}/${ctx.appId}/${ctx.workspaceId}/`;
}

const shown = (url: unknown) => JSON.stringify(String(url).slice(0, 200));

/**
 * The object a client-supplied FileUrl names, after checking that it is an
 * object of our own store, uploaded under the caller's prefix, present and
 * within `maxBytes`. Only our store is ever asked (a HEAD on the key); the URL
 * itself is never fetched.
 */
export async function resolveUploadedObject(
  deps: Pick<Deps, 'blobs' | 'config'>,
  ctx: Scope,
  fileUrl: unknown,
  opts: { maxBytes?: number; field?: string } = {},
): Promise<{ key: string; size: number }> {
  const field = opts.field ?? 'FileUrl';
  const maxBytes = opts.maxBytes ?? deps.config.storage.uploadMaxBytes;
  const key = typeof fileUrl === 'string' ? deps.blobs.keyFromUrl(fileUrl) : null;
  if (!key) {
    throw new BusinessError(
      'InvalidFileUrl',
      `${field} ${shown(fileUrl)} is not an object of this server's storage; upload the file with a GetMcubeFileToken policy and pass the URL of the stored object.`,
    );
  }
  if (!key.startsWith(uploadPrefix(ctx))) {
    throw new BusinessError('InvalidFileUrl', `${field} ${shown(fileUrl)} was not uploaded for this app and workspace; request a new GetMcubeFileToken and upload again.`);
  }
  const info = await deps.blobs.head(key);
  if (!info) throw new BusinessError('FileNotFound', `${field} ${shown(fileUrl)} names no uploaded file (never uploaded, or already expired).`);
  if (info.size > maxBytes) throw new BusinessError('FileTooLarge', `${field} ${shown(fileUrl)} is ${info.size} bytes; the limit is ${maxBytes} bytes.`);
  if (info.size === 0) throw new BusinessError('InvalidFileUrl', `${field} ${shown(fileUrl)} is an empty file.`);
  return { key, size: info.size };
}

/**
 * Copies an object resolveUploadedObject accepted to a local file and returns
 * the bytes copied: the size to record, as the uploader may have overwritten
 * its key since it was checked (its token allows that until it expires). The
 * copy stops at `maxBytes`; a file that grew past it, vanished or became empty
 * meanwhile is refused with the same business errors as at the check.
 */
export async function copyUploadedObject(
  deps: Pick<Deps, 'blobs'>,
  upload: { key: string },
  path: string,
  opts: { maxBytes: number; field?: string; fileUrl: unknown },
): Promise<number> {
  const field = opts.field ?? 'FileUrl';
  let size: number;
  try {
    size = await deps.blobs.downloadToFile(upload.key, path, opts.maxBytes);
  } catch (e) {
    if (e instanceof BlobTooLargeError) throw new BusinessError('FileTooLarge', `${field} ${shown(opts.fileUrl)} is larger than the limit of ${opts.maxBytes} bytes.`);
    if (e instanceof BlobNotFoundError) throw new BusinessError('FileNotFound', `${field} ${shown(opts.fileUrl)} names no uploaded file (it was removed while it was being read).`);
    throw e;
  }
  if (size === 0) throw new BusinessError('InvalidFileUrl', `${field} ${shown(opts.fileUrl)} is an empty file.`);
  return size;
}
