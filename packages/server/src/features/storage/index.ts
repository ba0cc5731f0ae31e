import type { Express } from 'express';
import type { Config } from '../../config.js';
import type { BlobStore } from '../../core/blob-store.js';
import type { Logger } from '../../core/logger.js';
import type { Deps } from '../../core/registry.js';

// Placeholder until the local and s3 drivers land.
export async function createBlobStore(_config: Config, _log: Logger): Promise<BlobStore> {
  const nope = async (): Promise<never> => {
    throw new Error('storage not configured');
  };
  return {
    driver: 'local',
    createUploadToken: nope,
    keyFromUrl: () => null,
    urlForKey: (k) => k,
    head: nope,
    getStream: nope,
    downloadToFile: nope,
    put: nope,
    putFile: nope,
    delete: nope,
    list: async function* () {},
    downloadUrl: nope,
  };
}

export function mountStorageRoutes(_app: Express, _deps: Deps): void {}
