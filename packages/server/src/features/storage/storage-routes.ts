import type { Express, Request, Response } from 'express';
import { createReadStream } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomUUID } from 'node:crypto';
import type { Deps } from '../../core/registry.js';
import { decodeKeyPath } from './key-rules.js';
import { handleLocalUpload } from './local-upload.js';
import { LOCAL_OBJECT_PATH, LOCAL_UPLOAD_PATH, LocalBlobStore } from './local-store.js';
import { sendS3Error } from './s3-xml.js';

// Only types that cannot run script on our origin; everything else is served as bytes.
const TYPES: Record<string, string> = {
  '.amr': 'application/octet-stream',
  '.json': 'application/json',
  '.zip': 'application/zip',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.apk': 'application/vnd.android.package-archive',
};

export function contentTypeFor(key: string): string {
  return TYPES[extname(key).toLowerCase()] ?? 'application/octet-stream';
}

const isFormPath = (path: string) => path === LOCAL_OBJECT_PATH || path === LOCAL_UPLOAD_PATH;

/** A POST of the local driver's upload form (either path, with or without a query): it bounds its own body. */
export function isLocalUpload(req: IncomingMessage): boolean {
  if (req.method !== 'POST') return false;
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return isFormPath(q < 0 ? url : url.slice(0, q));
}

/** Routes of the local driver: the S3-style upload form and presigned downloads. The s3 driver needs none. */
export function mountStorageRoutes(app: Express, deps: Deps): void {
  const store = deps.blobs;
  if (!(store instanceof LocalBlobStore)) return;
  app.use((req, res, next) => {
    const url = req.originalUrl;
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (isFormPath(path)) {
      if (req.method === 'POST') return handleLocalUpload(store, req, res, deps.log, deps.config.http.bodyTimeoutMs);
      if (req.method === 'OPTIONS') return void res.writeHead(204, preflight).end();
      return sendS3Error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', requestId());
    }
    if (path.startsWith(LOCAL_OBJECT_PATH + '/')) {
      void serveObject(store, req, res, path.slice(LOCAL_OBJECT_PATH.length + 1), q < 0 ? '' : url.slice(q + 1)).catch((e: Error) => {
        deps.log.error('object download failed', { error: e.stack ?? String(e) });
        if (!res.headersSent) sendS3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.', requestId());
        else res.destroy();
      });
      return;
    }
    next();
  });
}

const preflight = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '600',
};

const requestId = () => randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();

async function serveObject(store: LocalBlobStore, req: Request, res: Response, rawKey: string, query: string): Promise<void> {
  const rid = requestId();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return sendS3Error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', rid);
  }
  // decoded once from the raw path: the URL parser would resolve "%2e%2e" into a parent step
  const key = decodeKeyPath(rawKey);
  if (!key) return sendS3Error(res, 400, 'InvalidURI', 'Couldn\'t parse the specified URI.', rid);
  const params = new URLSearchParams(query);
  if (!store.verifyDownload(key, params.get('X-Mcube-Expires'), params.get('X-Mcube-Signature'))) {
    return sendS3Error(res, 403, 'AccessDenied', 'Request has expired or its signature does not match.', rid);
  }
  const path = store.pathFor(key);
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) return sendS3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.', rid);
  res.writeHead(200, {
    'content-type': contentTypeFor(key),
    'content-length': st.size,
    'last-modified': st.mtime.toUTCString(),
    'cache-control': 'private, max-age=300',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
    'access-control-allow-origin': '*',
    'x-amz-request-id': rid,
  });
  if (req.method === 'HEAD') return void res.end();
  await pipeline(createReadStream(path, { end: st.size - 1 < 0 ? undefined : st.size - 1 }), res);
}
