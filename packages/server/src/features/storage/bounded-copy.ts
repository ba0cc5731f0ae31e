import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobTooLargeError } from '../../core/blob-store.js';

/**
 * Writes an object's bytes to `path`, failing with BlobTooLargeError past
 * `maxBytes` (and leaving no file): the bytes counted are the bytes copied, so
 * the limit holds even when the object changed after its size was read (an
 * uploader may overwrite its own key until its token expires). The count.
 */
export async function copyWithin(body: Readable, key: string, path: string, maxBytes: number): Promise<number> {
  let n = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      cb(n > maxBytes ? new BlobTooLargeError(key, maxBytes) : null, chunk);
    },
  });
  try {
    await pipeline(body, limit, createWriteStream(path));
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
  return n;
}
