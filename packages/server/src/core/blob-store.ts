import type { Readable } from 'node:stream';

/** Browser-style POST upload policy handed to clients by GetMcubeFileToken. */
export interface UploadToken {
  /** URL the multipart form is posted to */
  url: string;
  /** every form field the client must send before the file part, in order */
  fields: Record<string, string>;
  /** key prefix (ends with "/") that uploads must fall under */
  dir: string;
  /** epoch seconds */
  expire: number;
  /** values for the vendor's FileToken shape */
  accessId: string;
  policy: string;
  signature: string;
}

export interface BlobInfo {
  key: string;
  size: number;
  lastModified?: number;
}

/**
 * Storage port. Keys are relative ("<tenant>/<app>-<ws>/..."); drivers never
 * accept a key that escapes their root.
 */
export interface BlobStore {
  readonly driver: 'local' | 's3';
  createUploadToken(opts: { dir: string; maxBytes: number; expiresInSec: number }): Promise<UploadToken>;
  /** The key of an object URL inside our bucket, or null for anything else (other hosts, buckets, schemes). */
  keyFromUrl(url: string): string | null;
  /** The canonical URL of an uploaded object (what clients pass back as FileUrl). */
  urlForKey(key: string): string;
  head(key: string): Promise<BlobInfo | null>;
  getStream(key: string): Promise<Readable>;
  /** copies an object to a local file (for random-access zip reading) */
  downloadToFile(key: string, path: string, maxBytes: number): Promise<number>;
  put(key: string, body: Buffer | Readable, opts?: { contentType?: string; size?: number }): Promise<void>;
  putFile(key: string, path: string, opts?: { contentType?: string }): Promise<void>;
  delete(key: string): Promise<void>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  /** address a device downloads from: presigned GET, or the configured public/CDN base */
  downloadUrl(key: string): Promise<string>;
  close?(): Promise<void>;
  /** local driver: removes temp files of writes killed midway, untouched for `olderThanMs`; returns how many */
  sweepTemp?(olderThanMs: number): Promise<number>;
}

/** getStream/downloadToFile on a key that holds no object. */
export class BlobNotFoundError extends Error {
  readonly code = 'NoSuchKey';
  constructor(readonly key: string) {
    super(`object ${key} does not exist`);
  }
}

/** downloadToFile on an object larger than the caller's limit (nothing is left on disk). */
export class BlobTooLargeError extends Error {
  readonly code = 'BlobTooLarge';
  constructor(
    readonly key: string,
    readonly maxBytes: number,
  ) {
    super(`object ${key} is larger than ${maxBytes} bytes`);
  }
}
