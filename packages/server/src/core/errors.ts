/**
 * Protocol failures: HTTP 4xx/5xx with the POP body {RequestId, HostId, Code, Message, Recommend}.
 */
export class PopError extends Error {
  /** the caller, when it was authenticated before the refusal (throttled): logged and audited as such */
  principal?: { accessKeyId: string; tenantId: string };

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Business failures: HTTP 200, ResultCode other than OK, and the action's result
 * object with Success: false, ResultMsg and (where the action has it) ErrorCode.
 */
export class BusinessError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** extra fields of the failure result object, for actions whose status sits deeper (e.g. ResultContent.Data) */
    readonly result?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const Pop = {
  missing: (name: string) => new PopError(400, 'MissingParameter', `The input parameter "${name}" that is mandatory for processing this request is not supplied.`),
  invalid: (name: string, why: string) => new PopError(400, 'InvalidParameter', `The parameter "${name}" is invalid: ${why}`),
  keyNotFound: () => new PopError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.'),
  keyInactive: () => new PopError(400, 'InvalidAccessKeyId.Inactive', 'Specified access key is disabled.'),
  signature: () => new PopError(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.'),
  expired: (skewSec: number) => new PopError(400, 'InvalidTimeStamp.Expired', `Specified time stamp or date value is expired (allowed skew ${skewSec} s).`),
  timestampFormat: () => new PopError(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted (expected YYYY-MM-DDTHH:mm:ssZ).'),
  nonceUsed: () => new PopError(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.'),
  version: (v: string | undefined) => new PopError(400, 'InvalidVersion', `Specified parameter Version "${v ?? ''}" is not valid; this service speaks 2020-10-28.`),
  action: (a: string | undefined) => new PopError(404, 'InvalidAction.NotFound', `Specified api "${a ?? ''}" is not found, please check your url and method.`),
  forbidden: (what: string) => new PopError(403, 'Forbidden', `You are not authorized to operate on ${what}.`),
  throttled: (retryAfterSec: number) =>
    new PopError(429, 'Throttling.User', 'Request was denied due to user flow control.', { 'x-acs-retry-after': String(retryAfterSec) }),
  tooLarge: (max: number) => new PopError(413, 'RequestTooLarge', `The request body exceeds the limit of ${max} bytes.`),
  timeout: () => new PopError(408, 'RequestTimeout', 'The request body was not received in time.'),
  badRequest: (why: string) => new PopError(400, 'InvalidParameter', why),
  internal: () => new PopError(500, 'InternalError', 'The request processing has failed due to some unknown error.'),
  unavailable: () => new PopError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server; retry later.', { 'retry-after': '1' }),
};

// 57014: a statement PostgreSQL cancelled (statement_timeout: it waited on a lock or a stalled server)
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'SQLITE_BUSY', '57P01', '57P02', '57P03', '53300', '57014']);

/** PostgreSQL gave the transaction up (40P01 deadlock, 40001 serialization failure): nothing was written, a retry can succeed. */
export function isGivenUp(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * A failure of the database connection rather than of the request: refused or
 * lost connections, PostgreSQL shutting down or out of connections (SQLSTATE
 * class 08, 57P0x, 53300), no pooled connection in time, SQLite busy, or a
 * transaction PostgreSQL gave up (isGivenUp). The
 * caller answers 503 (retry) instead of 500, and logs it without a stack.
 */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (isStorageUnavailable(e)) return true;
  if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || /^08/.test(e.code) || isGivenUp(e))) return true;
  if (e.name === 'KnexTimeoutError') return true;
  return typeof e.message === 'string' && /Connection terminated|Connection ended unexpectedly|timeout exceeded when trying to connect|no answer from the database|Query read timeout/.test(e.message);
}

/** A value the database or the driver refused (PostgreSQL SQLSTATE classes 22 and 23; a binding better-sqlite3 cannot take). */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^2[23]/.test(code)) return true;
  return err instanceof TypeError || err instanceof RangeError;
}

/**
 * S3 (or its look-alike) failing rather than refusing: a 5xx answer (503 SlowDown included), no answer within
 * MCUBE_S3_TIMEOUT_MS, or no connection. The AWS SDK marks its errors with $metadata.
 */
export function isStorageUnavailable(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: number }; name?: unknown; code?: unknown } | null;
  if (!e || typeof e !== 'object' || !('$metadata' in e)) return false;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number') return status >= 500;
  return e.name === 'TimeoutError' || (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code));
}
