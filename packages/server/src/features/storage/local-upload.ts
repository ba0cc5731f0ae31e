import busboy from 'busboy';
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../../core/logger.js';
import { keyProblem } from './key-rules.js';
import type { LocalBlobStore } from './local-store.js';
import { isOssPostForm, ossFormAsSigV4 } from './oss-post-form.js';
import { checkPostForm, PostFormError, type AcceptedForm } from './post-policy.js';
import { s3Xml, sendS3Error } from './s3-xml.js';

const LIMITS = { fields: 32, parts: 34, fieldSize: 64 * 1024, fieldNameSize: 200, headerPairs: 64, files: 1 };
const CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'Location, ETag, x-amz-request-id' };
const oneFile = () => new PostFormError(400, 'InvalidArgument', 'POST requires exactly one file upload per request.');

/**
 * A key the key rules accept but the file system cannot hold: "a" stored and then "a/b" (or the other way
 * round), or a name longer than the file system takes. The client's doing, so a 400 like S3's, not a 500.
 */
function unstorableKey(e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG') {
    return new PostFormError(400, 'InvalidArgument', code === 'ENAMETOOLONG' ? 'The object key has a name too long to store; use a shorter file name.' : 'The object key collides with a stored object or folder of the same name; use another key.');
  }
  return e;
}

/** An upload is cut off after this long in all (a POST token is good for an hour), or after MCUBE_BODY_TIMEOUT_MS without a byte. */
const UPLOAD_MAX_MS = 3_600_000;

/** How long a client refused before it finished sending may go on sending (read and dropped) before it is cut off. */
const LINGER_MS = 5000;

/**
 * Refused before the client finished sending (a too-large file, a bad
 * policy): answering with "connection: close" shut the socket while the client
 * was still writing, and most clients then saw EPIPE or a reset instead of the
 * answer (an audit saw the SDK report a network error in 7 of 15 oversized
 * uploads, so a CI job retried a refusal that can never pass). The rest of the
 * body is read and dropped instead (req.resume), the connection stays open so
 * the client can finish and read the answer, and it is cut off after LINGER_MS.
 * The headers for the answer: none while lingering, "connection: close" once
 * the body is all read.
 */
function lingerWhileSending(req: IncomingMessage): Record<string, string> {
  if (req.complete) return { connection: 'close' };
  const timer = setTimeout(() => req.socket.destroy(), LINGER_MS);
  timer.unref();
  const stop = () => clearTimeout(timer);
  req.once('end', stop);
  req.once('close', stop);
  return {};
}

/**
 * The local driver's stand-in for S3 "POST Object" (and, with a policy we
 * issued, the vendor's OSS PostObject spelling of it): checks the signed policy as
 * soon as the file part starts, streams the file to a temp file while counting
 * bytes, and renames it into place only after the whole form was read and
 * found valid. Any failure removes the temp file before the answer goes out.
 */
export function handleLocalUpload(store: LocalBlobStore, req: IncomingMessage, res: ServerResponse, log: Logger, idleMs: number): void {
  const requestId = randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase();
  const fields = new Map<string, string>();
  let finished = false;
  let fileSeen = false;
  let file: Readable | null = null;
  let sink: Transform | null = null;
  let tmp: string | null = null;
  let written: Promise<void> | null = null;
  let out: WriteStream | null = null;
  let accepted: AcceptedForm | null = null;
  let size = 0;
  const md5 = createHash('md5');

  const discard = async () => {
    // destroying the busboy part alone can leave the pipeline pending when the part had already ended
    sink?.destroy(new Error('upload abandoned'));
    file?.resume();
    await written?.catch(() => {});
    // the temp file must be closed before it is removed: a write stream still opening creates it afterwards
    if (out && !out.closed) {
      const stream = out;
      await new Promise<void>((resolve) => {
        stream.once('close', () => resolve());
        stream.destroy();
      });
    }
    if (tmp) await rm(tmp, { force: true });
    tmp = null;
  };

  const fail = async (err: unknown) => {
    if (finished) return;
    finished = true;
    req.unpipe();
    req.resume();
    await discard();
    const closing = lingerWhileSending(req);
    if (!(err instanceof PostFormError)) {
      log.error('local upload failed', { requestId, error: (err as Error)?.stack ?? String(err) });
      sendS3Error(res, 500, 'InternalError', 'We encountered an internal error. Please try again.', requestId, { ...CORS, ...closing });
      return;
    }
    sendS3Error(res, err.status, err.code, err.message, requestId, { ...CORS, ...closing });
  };

  let bb: busboy.Busboy;
  try {
    // browsers send UTF-8 file names; busboy would read them as latin1
    bb = busboy({ headers: req.headers, limits: LIMITS, defParamCharset: 'utf8' });
  } catch {
    void fail(new PostFormError(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.'));
    return;
  }

  bb.on('field', (name, value, info) => {
    // S3 ignores whatever follows the file part
    if (finished || fileSeen) return;
    if (info.nameTruncated || info.valueTruncated) return void fail(new PostFormError(400, 'InvalidArgument', `Form field "${name.slice(0, 64)}" is too long.`));
    const lower = name.toLowerCase();
    if (fields.has(lower)) return void fail(new PostFormError(400, 'InvalidArgument', `Form field "${name}" appears more than once.`));
    fields.set(lower, value);
  });

  bb.on('file', (name, stream, info) => {
    if (finished) return void stream.resume();
    if (fileSeen) {
      stream.resume();
      return void fail(oneFile());
    }
    fileSeen = true;
    file = stream;
    try {
      if (name.toLowerCase() !== 'file') throw new PostFormError(400, 'InvalidArgument', "The file must be sent in the form field named 'file'.");
      // an OSS-style form (OSSAccessKeyId/policy/Signature) is checked as the SigV4 form its policy names
      const form = isOssPostForm(fields) ? ossFormAsSigV4(fields, store.accessId) : fields;
      accepted = checkPostForm(form, info.filename ?? '', {
        bucket: store.bucket,
        accessId: store.accessId,
        secret: store.secrets.upload,
        olderSecrets: store.secrets.older.upload,
        region: store.region,
        now: store.now(),
        maxBytes: store.uploadMaxBytes,
      });
      const why = keyProblem(accepted.key);
      if (why) throw new PostFormError(400, 'InvalidArgument', `The object key ${why}.`);
    } catch (e) {
      return void fail(e);
    }
    const max = accepted.maxBytes;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > max) return cb(new PostFormError(400, 'EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of ${max} bytes.`));
        md5.update(chunk);
        cb(null, chunk);
      },
    });
    tmp = store.tempPath();
    sink = count;
    out = createWriteStream(tmp);
    written = pipeline(stream, count, out);
    written.catch((e) => fail(e));
  });

  bb.on('filesLimit', () => void fail(oneFile()));
  bb.on('fieldsLimit', () => void fail(new PostFormError(400, 'InvalidArgument', 'Too many form fields.')));
  bb.on('partsLimit', () => void fail(new PostFormError(400, 'InvalidArgument', 'Too many form parts.')));
  bb.on('error', () => void fail(new PostFormError(400, 'MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.')));

  bb.on('close', async () => {
    if (finished) return;
    if (!fileSeen) {
      // without a file part the key check never ran: report the missing key first, as S3 does
      if (!fields.has('key')) return void fail(new PostFormError(400, 'InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields."));
      return void fail(oneFile());
    }
    try {
      await written;
    } catch {
      return;
    }
    if (finished || !accepted || !tmp) return;
    const form = accepted;
    if (size < form.minBytes) return void fail(new PostFormError(400, 'EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size of ${form.minBytes} bytes.`));
    try {
      await store.commitTemp(tmp, form.key);
    } catch (e) {
      tmp = null;
      return void fail(unstorableKey(e));
    }
    tmp = null;
    finished = true;
    const location = store.urlForKey(form.key);
    const etag = `"${md5.digest('hex')}"`;
    const headers = { ...CORS, location, etag, 'x-amz-request-id': requestId };
    log.info('local upload stored', { requestId, key: form.key, size });
    if (form.successStatus === 201) {
      const text = s3Xml('PostResponse', { Location: location, Bucket: store.bucket, Key: form.key, ETag: etag });
      res.writeHead(201, { ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) }).end(text);
    } else {
      res.writeHead(form.successStatus, headers).end();
    }
  });

  // A stalled upload is cut by its own clock, not by a limit on the whole request: a large file on a slow link may
  // take long while it keeps sending (S3 itself times out a socket that sends nothing), once its signed policy is
  // accepted.
  const started = Date.now();
  let lastByte = started;
  req.on('data', () => {
    lastByte = Date.now();
  });
  const clock = setInterval(() => {
    if (req.complete) return clearInterval(clock);
    const now = Date.now();
    // until the policy is checked (at the file part) the form is anyone's: it gets MCUBE_BODY_TIMEOUT_MS in all
    const limit = accepted === null ? idleMs : UPLOAD_MAX_MS;
    if (now - lastByte < idleMs && now - started < limit) return;
    clearInterval(clock);
    void fail(new PostFormError(400, 'RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period.'));
  }, Math.min(1000, idleMs));
  clock.unref();

  // a client that goes away mid-upload leaves nothing behind
  req.on('close', () => {
    clearInterval(clock);
    if (!finished && !req.complete) {
      finished = true;
      void discard();
    }
  });

  req.pipe(bb);
}
