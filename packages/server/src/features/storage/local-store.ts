import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../config.js';
import { BlobNotFoundError, BlobTooLargeError, downloadWindow, type BlobInfo, type BlobStore, type UploadToken } from '../../core/blob-store.js';
import type { Logger } from '../../core/logger.js';
import { sweepStaleEntries } from '../../core/stale-files.js';
import { assertSafeDir, assertSafeKey, UnsafeKeyError } from './key-rules.js';
import { deriveLocalSecrets, LOCAL_ACCESS_ID, signDownload, verifyDownload, type LocalSecrets } from './local-signing.js';
import { copyWithin } from './bounded-copy.js';
import { joinKey, keyFromObjectUrl, normaliseBase, pointsUnder } from './object-urls.js';
import { signPostPolicy } from './post-policy.js';

/** where tokens issued before uploads moved to the object base still post */
export const LOCAL_UPLOAD_PATH = '/_storage/upload';
export const LOCAL_OBJECT_PATH = '/_storage/obj';

/** A read stream of a file opened now (a missing file fails here, not later in the stream). */
async function openForRead(path: string): Promise<Readable> {
  const fh = await open(path, 'r');
  return fh.createReadStream();
}

const missing = (e: unknown) => ['ENOENT', 'ENOTDIR', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

/**
 * Objects as files under <dataDir>/blobs/<bucket>/<key>. Every write goes to
 * <dataDir>/blobs/.tmp first and is renamed into place, so a reader never sees
 * half an object and a crash leaves only temp files (swept on start and by
 * the janitor once they are older than its grace period).
 */
export class LocalBlobStore implements BlobStore {
  readonly driver = 'local' as const;
  readonly accessId = LOCAL_ACCESS_ID;
  readonly root: string;
  readonly tmpDir: string;
  readonly secrets: LocalSecrets;

  constructor(
    private readonly config: Config,
    readonly now: () => number = Date.now,
  ) {
    const blobs = join(config.dataDir, 'blobs');
    this.root = join(blobs, config.storage.bucket);
    this.tmpDir = join(blobs, '.tmp');
    this.secrets = deriveLocalSecrets(config.masterKey, config.masterKeysOpenOnly);
  }

  get bucket(): string {
    return this.config.storage.bucket;
  }

  /** hard cap on any upload, whatever a policy says (the configuration may have shrunk since) */
  get uploadMaxBytes(): number {
    return this.config.storage.uploadMaxBytes;
  }

  get region(): string {
    return this.config.storage.s3Region;
  }

  async start(): Promise<void> {
    await mkdir(this.root, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
    await this.sweepTemp(this.config.janitor.graceSec * 1000);
  }

  /** Removes temp files no writer has touched for `olderThanMs` (left by a killed process); returns how many. */
  sweepTemp(olderThanMs: number): Promise<number> {
    return sweepStaleEntries(this.tmpDir, olderThanMs, this.now());
  }

  /** The file of a key; throws for any key that is unsafe or would leave the root. */
  pathFor(key: string): string {
    assertSafeKey(key);
    const p = join(this.root, ...key.split('/'));
    if (!p.startsWith(this.root + sep)) throw new UnsafeKeyError(`object key ${JSON.stringify(key)} leaves the store`);
    return p;
  }

  tempPath(): string {
    return join(this.tmpDir, `${randomUUID()}.part`);
  }

  /** Moves a finished temp file into place atomically; the temp file is gone afterwards either way. */
  async commitTemp(tmp: string, key: string): Promise<void> {
    try {
      const dest = this.pathFor(key);
      for (let attempt = 0; ; attempt++) {
        await mkdir(dirname(dest), { recursive: true });
        try {
          await rename(tmp, dest);
          return;
        } catch (e) {
          // a concurrent delete may prune the freshly made parent folder: make it again once
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw e;
        }
      }
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async createUploadToken(opts: { dir: string; maxBytes: number; expiresInSec: number }): Promise<UploadToken> {
    assertSafeDir(opts.dir);
    const signed = signPostPolicy({
      bucket: this.bucket,
      dir: opts.dir,
      maxBytes: opts.maxBytes,
      now: this.now(),
      expiresInSec: Math.min(opts.expiresInSec, 3600),
      accessId: this.accessId,
      secret: this.secrets.upload,
      region: this.region,
    });
    return {
      // the object base, as an S3 bucket's URL is: Host + "/" + key is then the uploaded object's URL
      url: `${this.base()}${LOCAL_OBJECT_PATH}`,
      fields: signed.fields,
      dir: opts.dir,
      expire: signed.expire,
      accessId: this.accessId,
      policy: signed.policy,
      signature: signed.signature,
    };
  }

  /** publicUrl is read on every call: the test harness sets it once the port is known. */
  private base(): string {
    return normaliseBase(this.config.publicUrl);
  }

  urlForKey(key: string): string {
    return joinKey(this.base() + LOCAL_OBJECT_PATH, assertSafeKey(key));
  }

  keyFromUrl(url: string): string | null {
    const presigned = (q: URLSearchParams) => {
      const names = [...q.keys()];
      return names.length === new Set(names).size && names.every((n) => n === 'X-Mcube-Expires' || n === 'X-Mcube-Signature');
    };
    return keyFromObjectUrl(url, [`${this.base()}${LOCAL_OBJECT_PATH}/`], presigned);
  }

  pointsInto(url: string): boolean {
    const base = this.config.storage.downloadBaseUrl;
    return pointsUnder(url, [`${this.base()}${LOCAL_OBJECT_PATH}/`, ...(base ? [`${normaliseBase(base)}/`] : [])]);
  }

  async downloadUrl(key: string, opts: { ttlSec?: number } = {}): Promise<string> {
    const base = this.config.storage.downloadBaseUrl;
    if (base && opts.ttlSec === undefined) return joinKey(base, assertSafeKey(key));
    const expires = Math.floor((opts.ttlSec === undefined ? downloadWindow(this.now(), this.config.storage.downloadUrlTtlSec).expiresAt : this.now() + opts.ttlSec * 1000) / 1000);
    return `${this.urlForKey(key)}?X-Mcube-Expires=${expires}&X-Mcube-Signature=${signDownload(this.secrets.download, key, expires)}`;
  }

  verifyDownload(key: string, expires: string | null, signature: string | null): boolean {
    return verifyDownload([this.secrets.download, ...this.secrets.older.download], key, expires, signature, this.now());
  }

  async head(key: string): Promise<BlobInfo | null> {
    try {
      const st = await stat(this.pathFor(key));
      return st.isFile() ? { key, size: st.size, lastModified: st.mtimeMs } : null;
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.pathFor(key);
    if (!(await this.head(key))) throw new BlobNotFoundError(key);
    return createReadStream(path);
  }

  async downloadToFile(key: string, path: string, maxBytes: number): Promise<number> {
    const info = await this.head(key);
    if (!info) throw new BlobNotFoundError(key);
    if (info.size > maxBytes) throw new BlobTooLargeError(key, maxBytes);
    // streamed and counted, not copyFile: the uploader may have replaced the file since head()
    let body: Readable;
    try {
      body = await openForRead(this.pathFor(key));
    } catch (e) {
      if (missing(e)) throw new BlobNotFoundError(key);
      throw e;
    }
    return copyWithin(body, key, path, maxBytes);
  }

  async put(key: string, body: Buffer | Readable, _opts?: { contentType?: string; size?: number }): Promise<void> {
    this.pathFor(key);
    const tmp = this.tempPath();
    try {
      if (Buffer.isBuffer(body)) await writeFile(tmp, body);
      else await pipeline(body, createWriteStream(tmp));
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await this.commitTemp(tmp, key);
  }

  async putFile(key: string, path: string, _opts?: { contentType?: string }): Promise<void> {
    this.pathFor(key);
    const tmp = this.tempPath();
    try {
      await copyFile(path, tmp);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await this.commitTemp(tmp, key);
  }

  async delete(key: string): Promise<void> {
    const path = this.pathFor(key);
    try {
      await unlink(path);
    } catch (e) {
      if (missing(e)) return;
      throw e;
    }
    // prune folders left empty, never the bucket root itself
    for (let dir = dirname(path); dir.startsWith(this.root + sep); dir = dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) break;
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    // every key checked before the first goes, as the s3 driver does
    for (const k of keys) assertSafeKey(k);
    for (const k of keys) await this.delete(k);
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    const cut = prefix.lastIndexOf('/');
    const dirKey = cut < 0 ? '' : prefix.slice(0, cut);
    const start = dirKey ? this.pathFor(dirKey) : this.root;
    const walk = async function* (this: LocalBlobStore, dir: string, keyDir: string): AsyncGenerator<BlobInfo> {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (missing(e)) return;
        throw e;
      }
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const ent of entries) {
        const key = keyDir ? `${keyDir}/${ent.name}` : ent.name;
        if (ent.isDirectory()) {
          if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) yield* walk.call(this, join(dir, ent.name), key);
        } else if (ent.isFile() && key.startsWith(prefix)) {
          const st = await stat(join(dir, ent.name)).catch(() => null);
          if (st) yield { key, size: st.size, lastModified: st.mtimeMs };
        }
      }
    };
    yield* walk.call(this, start, dirKey);
  }
}

export async function createLocalStore(config: Config, log: Logger, now?: () => number): Promise<LocalBlobStore> {
  const store = new LocalBlobStore(config, now);
  await store.start();
  log.info('blob store ready', { driver: 'local', root: store.root });
  return store;
}
