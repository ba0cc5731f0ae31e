import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { McubeNetworkError, McubeUploadError } from './errors.js';
import { multipartFrame } from './multipart-body.js';
import { xmlTag } from './xml-tag.js';
import { openSource, type UploadSource } from './upload-source.js';
import type { RetryEvent } from './client-options.js';
import { resolveRetry, uploadRetryDelay, type RetryOptions } from './retry-policy.js';

/** The FileToken of GetMcubeFileToken, as McubeClient returns it (camelCase) or as sent on the wire (PascalCase). */
export interface FileTokenLike {
  host?: string;
  dir?: string;
  accessid?: string;
  policy?: string;
  signature?: string;
  formFields?: Record<string, string>;
  Host?: string;
  Dir?: string;
  Accessid?: string;
  Policy?: string;
  Signature?: string;
  FormFields?: Record<string, string>;
}

export interface UploadOptions {
  /** file name of the file part, which replaces `${filename}` in the key (default: the path's base name, else "upload.bin") */
  filename?: string;
  contentType?: string;
  /** length of a Readable source; without it the body is sent chunked (S3 itself needs a length) */
  size?: number;
  /** file bytes handed to the socket so far, and the total when known; monotonic, ends at total */
  onProgress?: (sent: number, total: number | undefined) => void;
  /** idle timeout of the connection (default 120 s) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * attempts and backoff as for calls (default 3 attempts), or false for one. A path or bytes are sent again after
   * a network error, a timeout or a 5xx / 429 from the store; a stream cannot be re-read and is sent once.
   */
  retry?: RetryOptions | false;
  /** called before each new attempt (action "upload") */
  onRetry?: (event: RetryEvent) => void;
}

/** A media type token/parameters line: visible ASCII and spaces only, so it cannot end the part's headers early. */
const MEDIA_TYPE = /^[\x21-\x7e][\x20-\x7e]*$/;

const safeFilename = (name: string) => name.replace(/[\\/]/g, '_').replace(/[\u0000-\u001f\u007f]/g, '') || 'upload.bin';

/** Form fields to post: the server's FormFields as given, else the vendor's OSS PostObject set built from the token. */
function formFieldsOf(t: FileTokenLike): Record<string, string> {
  const given = t.formFields ?? t.FormFields;
  if (given) return given;
  const dir = t.dir ?? t.Dir ?? '';
  return {
    key: `${dir}\${filename}`,
    policy: t.policy ?? t.Policy ?? '',
    OSSAccessKeyId: t.accessid ?? t.Accessid ?? '',
    success_action_status: '200',
    signature: t.signature ?? t.Signature ?? '',
  };
}


async function readAll(res: IncomingMessage): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** The source did not hold the bytes its size promised (a file changed while it was read, or a wrong `size`). */
function sizeChanged(sent: number, total: number, how: string): Error {
  return Object.assign(new Error(`the upload source ${how} ${sent} bytes, not the ${total} it had when the upload started; the upload was abandoned`), { code: 'SourceChanged' });
}

/** Percent-encodes each path segment of a key, keeping the "/" separators. */
export const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/**
 * Posts a file to the storage host of a GetMcubeFileToken answer (the
 * counterpart of the vendor's OssPostObject): every form field as given, then
 * the file part, streamed with a known Content-Length. Returns the FileUrl to
 * pass to CreateMcubeNebulaResource / UploadMcubeRsaKey / UpdateMcubeWhitelist:
 * the object URL the storage answers in `Location`, else `<Host>/<key>`.
 */
export async function uploadFile(fileToken: FileTokenLike, source: UploadSource, opts: UploadOptions = {}): Promise<string> {
  const policy = resolveRetry(opts.retry);
  const replayable = typeof source === 'string' || source instanceof Uint8Array;
  // a new attempt starts from byte 0: progress stays monotonic, resuming once the new attempt passes the old one
  let shown = -1;
  const onProgress = opts.onProgress && ((sent: number, total: number | undefined) => {
    if (sent > shown) opts.onProgress!((shown = Math.max(sent, shown)), total);
  });
  for (let attempt = 1; ; attempt++) {
    try {
      return await uploadOnce(fileToken, source, { ...opts, onProgress });
    } catch (err) {
      const delay = replayable && !opts.signal?.aborted ? uploadRetryDelay(err, attempt, policy) : null;
      if (delay === null) throw err;
      opts.onRetry?.({ action: 'upload', attempt, delayMs: delay, error: err as Error });
      await new Promise((r) => setTimeout(r, delay));
      if (opts.signal?.aborted) throw err;
    }
  }
}

async function uploadOnce(fileToken: FileTokenLike, source: UploadSource, opts: UploadOptions): Promise<string> {
  const host = fileToken.host ?? fileToken.Host;
  if (!host) throw new TypeError('fileToken has no host');
  const target = new URL(host);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new TypeError(`fileToken host ${host} is not http(s)`);
  if (opts.contentType !== undefined && !MEDIA_TYPE.test(opts.contentType)) {
    throw new TypeError(`contentType ${JSON.stringify(opts.contentType)} is not a media type (visible ASCII only, e.g. "application/zip")`);
  }
  const src = await openSource(source, opts.size);
  const filename = safeFilename(opts.filename ?? src.filename ?? 'upload.bin');
  // S3 substitutes ${filename} itself; stores that do not (s3rver) would keep it literally, so send the final key
  const fields = Object.fromEntries(
    Object.entries(formFieldsOf(fileToken)).map(([k, v]) => [k, k.toLowerCase() === 'key' ? v.split('${filename}').join(filename) : v]),
  );
  const key = Object.entries(fields).find(([k]) => k.toLowerCase() === 'key')?.[1] ?? '';
  // S3 stores the type its form field gives (the part's own header is ignored): the object is then served with it
  if (opts.contentType !== undefined && !Object.keys(fields).some((k) => k.toLowerCase() === 'content-type')) fields['Content-Type'] = opts.contentType;
  const frame = multipartFrame(fields, { field: 'file', filename, contentType: opts.contentType ?? 'application/octet-stream' });
  const total = src.size;
  const headers: Record<string, string | number> = { 'content-type': frame.contentType };
  if (total !== undefined) headers['content-length'] = frame.head.length + total + frame.tail.length;

  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(target, { method: 'POST', headers, signal: opts.signal });
  req.setTimeout(opts.timeoutMs ?? 120_000, () => req.destroy(Object.assign(new Error(`no progress for ${opts.timeoutMs ?? 120_000} ms`), { code: 'Timeout' })));

  let responded = false;
  let wake: (() => void) | undefined;
  const answered = new Promise<{ status: number; location?: string; text: string }>((resolve, reject) => {
    req.on('response', (res) => {
      responded = true;
      wake?.();
      readAll(res).then((text) => resolve({ status: res.statusCode ?? 0, location: res.headers.location, text }), reject);
    });
    req.on('error', reject);
  });
  answered.catch(() => {});
  // resolves on drain, or when writing is pointless: an early answer, or a closed connection (then `answered` tells why)
  const writable = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        req.off('drain', done);
        req.off('close', done);
        wake = undefined;
        resolve();
      };
      wake = done;
      req.on('drain', done);
      req.on('close', done);
    });

  const pump = async () => {
    let sent = 0;
    req.write(frame.head);
    for await (const chunk of src.chunks) {
      if (responded || req.destroyed) break;
      sent += chunk.length;
      // more bytes than the Content-Length sent: the store would read the excess as a next request
      if (total !== undefined && sent > total) throw sizeChanged(sent, total, 'grew to at least');
      if (!req.write(chunk)) await writable();
      opts.onProgress?.(sent, total);
    }
    // fewer: the store would wait for the rest until the idle timeout, then report a network error
    if (total !== undefined && sent < total && !responded && !req.destroyed) throw sizeChanged(sent, total, 'ended after');
    if (sent === 0) opts.onProgress?.(0, total);
    if (!responded && !req.destroyed) req.end(frame.tail);
  };

  try {
    // an early answer (e.g. EntityTooLarge) may close the connection while we write; report the answer, not the EPIPE
    await pump().catch((err) => {
      if (!responded) req.destroy(err);
    });
    const { status, location, text } = await answered;
    if (status >= 200 && status < 300) {
      const fromServer = location ?? xmlTag(text, 'Location');
      if (fromServer) return new URL(fromServer, target).href;
      return `${host.replace(/\/+$/, '')}/${encodeKey(key)}`;
    }
    let code = xmlTag(text, 'Code');
    let message = xmlTag(text, 'Message');
    let requestId = xmlTag(text, 'RequestId');
    if (!code) {
      try {
        const j = JSON.parse(text);
        code = j.Code ?? j.code;
        message = j.Message ?? j.message;
        requestId = j.RequestId ?? j.requestId;
      } catch {}
    }
    throw new McubeUploadError({
      code: code ?? `Http${status}`,
      message: `upload to ${target.origin} refused: ${message ?? (text.trim().slice(0, 200) || `HTTP ${status}`)}`,
      requestId,
      statusCode: status,
      data: text,
    });
  } catch (err) {
    req.destroy();
    if (err instanceof McubeUploadError || opts.signal?.aborted) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'SourceChanged') throw new McubeUploadError({ code: e.code, message: e.message, cause: err });
    throw new McubeNetworkError({ code: e.code ?? 'NetworkError', message: `upload to ${target.origin} failed: ${e.message}`, cause: err });
  } finally {
    src.close();
  }
}
