import { isIP } from 'node:net';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../config.js';
import { BlobNotFoundError, BlobTooLargeError, downloadWindow, type BlobInfo, type BlobStore, type UploadToken } from '../../core/blob-store.js';
import type { Logger } from '../../core/logger.js';
import { assertSafeDir, assertSafeKey } from './key-rules.js';
import { copyWithin } from './bounded-copy.js';
import { joinKey, keyFromObjectUrl, normaliseBase, pointsUnder } from './object-urls.js';
import { uploadConditions } from './post-policy.js';

const notFound = (e: unknown) => {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NotFound' || err.name === 'NoSuchKey' || err.name === 'NoSuchBucket' || err.$metadata?.httpStatusCode === 404;
};

/** Both spellings of the bucket's address: [path-style, virtual-host]. */
function bucketUrls(s: Config['storage']): [string, string] {
  if (!s.s3Endpoint) return [`https://s3.${s.s3Region}.amazonaws.com/${s.bucket}`, `https://${s.bucket}.s3.${s.s3Region}.amazonaws.com`];
  const base = normaliseBase(s.s3Endpoint);
  const u = new URL(base);
  // an endpoint given as an IP address (MinIO at 10.0.0.5:9000) has no virtual-hosted spelling: "<bucket>.10.0.0.5" is no host
  if (isIP(u.hostname.replace(/^\[|\]$/g, ''))) return [`${base}/${s.bucket}`, `${base}/${s.bucket}`];
  return [`${base}/${s.bucket}`, `${u.protocol}//${s.bucket}.${u.host}${u.pathname.replace(/\/+$/, '')}`];
}

/** DeleteObjects takes at most a thousand keys; a few calls run at once. */
const S3_DELETE_BATCH = 1000;
const S3_DELETE_CALLS = 4;

/** Any S3-compatible service (AWS, MinIO, Ceph, OSS in S3 mode, s3rver in tests). */
export class S3BlobStore implements BlobStore {
  readonly driver = 's3' as const;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly urls: [string, string];

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    const s = config.storage;
    this.bucket = s.bucket;
    this.urls = bucketUrls(s);
    this.client = new S3Client({
      region: s.s3Region,
      ...(s.s3Endpoint ? { endpoint: s.s3Endpoint } : {}),
      ...(s.s3AccessKeyId && s.s3SecretAccessKey ? { credentials: { accessKeyId: s.s3AccessKeyId, secretAccessKey: s.s3SecretAccessKey } } : {}),
      forcePathStyle: s.s3ForcePathStyle,
      // otherwise stream bodies carry aws-chunked checksum framing that some S3 look-alikes store verbatim
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // the SDK's default is to wait for ever: a stalled S3 held calls without end, and 50 stalled sockets took the
      // node's whole pool (every later storage call then waited too)
      requestHandler: { connectionTimeout: Math.min(5000, s.s3TimeoutMs), socketTimeout: s.s3TimeoutMs },
    });
  }

  async start(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      if (!notFound(e)) throw e;
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
        this.log.info('created bucket', { bucket: this.bucket });
      } catch (err) {
        if ((err as Error).name !== 'BucketAlreadyOwnedByYou') throw err;
      }
    }
  }

  async createUploadToken(opts: { dir: string; maxBytes: number; expiresInSec: number }): Promise<UploadToken> {
    assertSafeDir(opts.dir);
    const expiresInSec = Math.min(opts.expiresInSec, 3600);
    const post = await createPresignedPost(this.client, {
      Bucket: this.bucket,
      Key: `${opts.dir}\${filename}`,
      Conditions: uploadConditions(opts.maxBytes),
      // Signed (an exact condition) and in the form fields: S3 serves an upload with the Content-Type its form
      // gave, so without it anyone with an API key could host a page (text/html) on the bucket or the CDN in
      // front of it; as an attachment a browser saves it instead of rendering it.
      Fields: { 'Content-Disposition': 'attachment' },
      Expires: expiresInSec,
    });
    // key first: S3 only honours fields that come before the file part, and key is the one clients edit
    const { key, ...rest } = post.fields;
    const { expiration } = JSON.parse(Buffer.from(post.fields.Policy!, 'base64').toString('utf8')) as { expiration: string };
    return {
      // virtual-hosted addressing gives "https://<bucket>.s3.../": without the slash, Host + "/" + key (the
      // FileToken contract) is the object's URL, where a doubled slash made keyFromUrl refuse the upload
      url: post.url.replace(/\/+$/, ''),
      fields: { key: key!, ...rest },
      dir: opts.dir,
      expire: Math.floor(Date.parse(expiration) / 1000),
      accessId: post.fields['X-Amz-Credential']!.split('/')[0]!,
      policy: post.fields.Policy!,
      signature: post.fields['X-Amz-Signature']!,
    };
  }

  urlForKey(key: string): string {
    return joinKey(this.urls[this.config.storage.s3ForcePathStyle ? 0 : 1], assertSafeKey(key));
  }

  keyFromUrl(url: string): string | null {
    return keyFromObjectUrl(url, this.urls.map((u) => `${u}/`));
  }

  pointsInto(url: string): boolean {
    const s = this.config.storage;
    const bucket = this.bucket.toLowerCase();
    // on AWS a bucket answers under more host names than the two it is addressed by here: the global and
    // dual-stack endpoints, in virtual-host and path style
    const aws = s.s3Endpoint
      ? undefined
      : (host: string, path: string) =>
          host.endsWith('.amazonaws.com') &&
          (host.startsWith(`${bucket}.s3.`) || host.startsWith(`${bucket}.s3-`) || (/^s3[.-]/.test(host) && path.startsWith(`/${this.bucket}/`)));
    return pointsUnder(url, [...this.urls.map((u) => `${u}/`), ...(s.downloadBaseUrl ? [`${normaliseBase(s.downloadBaseUrl)}/`] : [])], aws);
  }

  async downloadUrl(key: string, opts: { ttlSec?: number } = {}): Promise<string> {
    assertSafeKey(key);
    const base = this.config.storage.downloadBaseUrl;
    if (base && opts.ttlSec === undefined) return joinKey(base, key);
    // the same link on every node for the whole window (downloadWindow); valid until the window's expiry
    const now = Date.now();
    const { signedAt, expiresAt } = opts.ttlSec === undefined ? downloadWindow(now, this.config.storage.downloadUrlTtlSec) : { signedAt: now, expiresAt: now + opts.ttlSec * 1000 };
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      signingDate: new Date(signedAt),
      expiresIn: Math.round((expiresAt - signedAt) / 1000),
    });
  }

  async head(key: string): Promise<BlobInfo | null> {
    assertSafeKey(key);
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: r.ContentLength ?? 0, lastModified: r.LastModified?.getTime() };
    } catch (e) {
      if (notFound(e)) return null;
      throw e;
    }
  }

  async getStream(key: string): Promise<Readable> {
    assertSafeKey(key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return r.Body as Readable;
    } catch (e) {
      if (notFound(e)) throw new BlobNotFoundError(key);
      throw e;
    }
  }

  async downloadToFile(key: string, path: string, maxBytes: number): Promise<number> {
    const info = await this.head(key);
    if (!info) throw new BlobNotFoundError(key);
    if (info.size > maxBytes) throw new BlobTooLargeError(key, maxBytes);
    return copyWithin(await this.getStream(key), key, path, maxBytes);
  }

  async put(key: string, body: Buffer | Readable, opts: { contentType?: string; size?: number } = {}): Promise<void> {
    assertSafeKey(key);
    if (!Buffer.isBuffer(body) && opts.size === undefined) {
      // PutObject needs a length: spool streams of unknown size to disk first
      await mkdir(this.config.packages.workDir, { recursive: true });
      const tmp = join(this.config.packages.workDir, `spool-${randomUUID()}`);
      try {
        await pipeline(body, createWriteStream(tmp));
        await this.putFile(key, tmp, opts);
      } finally {
        await rm(tmp, { force: true });
      }
      return;
    }
    const size = Buffer.isBuffer(body) ? body.length : opts.size;
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: size, ...(opts.contentType ? { ContentType: opts.contentType } : {}) }),
    );
  }

  async putFile(key: string, path: string, opts: { contentType?: string } = {}): Promise<void> {
    const { size } = await stat(path);
    await this.put(key, createReadStream(path), { ...opts, size });
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const k of keys) assertSafeKey(k);
    const batches: string[][] = [];
    for (let i = 0; i < keys.length; i += S3_DELETE_BATCH) batches.push(keys.slice(i, i + S3_DELETE_BATCH));
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const r = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
        const failed = r.Errors?.find((e) => e.Code !== 'NoSuchKey');
        if (failed) throw new Error(`could not delete ${failed.Key}: ${failed.Code} ${failed.Message ?? ''}`.trim());
      }
    };
    await Promise.all(Array.from({ length: Math.min(S3_DELETE_CALLS, batches.length) }, worker));
  }

  async *list(prefix: string): AsyncIterable<BlobInfo> {
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of r.Contents ?? []) if (o.Key) yield { key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

export async function createS3Store(config: Config, log: Logger): Promise<S3BlobStore> {
  const store = new S3BlobStore(config, log);
  await store.start();
  log.info('blob store ready', { driver: 's3', bucket: config.storage.bucket, endpoint: config.storage.s3Endpoint ?? 'aws' });
  return store;
}
