import type { Config } from '../../config.js';
import type { BlobStore } from '../../core/blob-store.js';
import type { Logger } from '../../core/logger.js';
import { createLocalStore } from './local-store.js';
import { createS3Store } from './s3-store.js';

export { isLocalUpload, mountStorageRoutes } from './storage-routes.js';
export { copyUploadedObject, resolveUploadedObject, uploadPrefix, FILE_URL_ERRORS } from './resolve-upload.js';
export { buildExpired, removeClaimedBlobs, removeDroppedBlobs, removeStored, type Reservation } from './blob-cleanup.js';
export { publicFolderUrl } from './object-urls.js';
export { isSafeKey, assertSafeKey, UnsafeKeyError } from './key-rules.js';
export { LocalBlobStore } from './local-store.js';
export { S3BlobStore } from './s3-store.js';

// S3 bucket naming rules (lower-case, 3-63 chars); also keeps the local root a plain folder name.
const BUCKET = /^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The blob store the configuration asks for, ready to use (local folders made, S3 bucket created if missing). */
export async function createBlobStore(config: Config, log: Logger, opts: { now?: () => number } = {}): Promise<BlobStore> {
  if (!BUCKET.test(config.storage.bucket)) throw new Error(`MCUBE_S3_BUCKET "${config.storage.bucket}" is not a valid bucket name`);
  return config.storage.driver === 's3' ? createS3Store(config, log) : createLocalStore(config, log, opts.now);
}
