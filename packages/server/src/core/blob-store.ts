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
  /** Whether the URL points anywhere into our storage (objects, the download base), in any spelling: links a client gives are refused then. */
  pointsInto(url: string): boolean;
  /** The canonical URL of an uploaded object (what clients pass back as FileUrl). */
  urlForKey(key: string): string;
  head(key: string): Promise<BlobInfo | null>;
  getStream(key: string): Promise<Readable>;
  /** copies an object to a local file (for random-access zip reading) */
  downloadToFile(key: string, path: string, maxBytes: number): Promise<number>;
  put(key: string, body: Buffer | Readable, opts?: { contentType?: string; size?: number }): Promise<void>;
  putFile(key: string, path: string, opts?: { contentType?: string }): Promise<void>;
  delete(key: string): Promise<void>;
  /** removes many objects in few requests (S3 DeleteObjects, a thousand a call); missing ones are no error */
  deleteMany(keys: readonly string[]): Promise<void>;
  list(prefix: string): AsyncIterable<BlobInfo>;
  /**
   * address a device downloads from: presigned GET, or the configured public/CDN base. With `ttlSec`: a link signed
   * now that works that long and never the public base (the download gate hands one to each caller who knew the code)
   */
  downloadUrl(key: string, opts?: { ttlSec?: number }): Promise<string>;
  close?(): Promise<void>;
  /** local driver: removes temp files of writes killed midway, untouched for `olderThanMs`; returns how many */
  sweepTemp?(olderThanMs: number): Promise<number>;
}

/** Longest lifetime of a download link: S3 presigns for at most 7 days. */
export const MAX_DOWNLOAD_TTL_SEC = 7 * 24 * 3600;

/**
 * The signing window of download links. Nebula's Android client names a
 * download and its install folder after md5(package_url), so a link that
 * changes for an unchanged package makes a device that has not installed it
 * yet download it again. Every node signs with the start of the current window
 * as its signing time, so all nodes, and a node after a restart, hand out the
 * same link until the window ends (half the lifetime; the link stays valid at
 * least that much longer), then all move to the next one together.
 */
export function downloadWindow(now: number, ttlSec: number): { signedAt: number; expiresAt: number; renewAt: number } {
  const ttl = Math.min(ttlSec, MAX_DOWNLOAD_TTL_SEC) * 1000;
  const w = Math.max(30_000, Math.floor(ttl / 2));
  const signedAt = Math.floor(now / w) * w;
  return { signedAt, expiresAt: signedAt + ttl, renewAt: signedAt + w };
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
