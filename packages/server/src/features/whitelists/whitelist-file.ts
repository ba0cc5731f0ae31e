import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';

/**
 * Opener for an uploaded whitelist file (OssUrl). The object must be one of the
 * caller's uploads; nothing else is ever fetched.
 */
export function whitelistFileOpener(ctx: ActionContext, ossUrl: string): () => Promise<AsyncIterable<Buffer>> {
  return async () => {
    void ctx;
    throw new BusinessError('InvalidFileUrl', `OssUrl "${ossUrl.slice(0, 200)}" cannot be read: file imports are not available on this server yet.`);
  };
}
