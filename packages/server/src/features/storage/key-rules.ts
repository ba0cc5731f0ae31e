/**
 * Object keys are relative paths ("uploads/<tenant>/<app>/<ws>/<uuid>/a.zip").
 * The same rules guard every driver, the upload form and every URL a client
 * hands back, so no key can ever address something outside the store's root.
 */
const MAX_KEY_BYTES = 1024;
// C0 controls (NUL included), DEL and the backslash, which Windows and some proxies treat as "/".
const FORBIDDEN = /[\u0000-\u001f\u007f\\]/;

/** Why a key is unsafe, or null when it is fine. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string' || key === '') return 'is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `is longer than ${MAX_KEY_BYTES} bytes`;
  if (FORBIDDEN.test(key)) return 'contains a control character or a backslash';
  if (key.startsWith('/')) return 'is absolute';
  for (const seg of key.split('/')) {
    if (seg === '') return 'has an empty path segment';
    if (seg === '.' || seg === '..') return 'has a "." or ".." segment';
  }
  return null;
}

export function isSafeKey(key: unknown): key is string {
  return keyProblem(key) === null;
}

export function assertSafeKey(key: unknown): string {
  const why = keyProblem(key);
  if (why) throw new UnsafeKeyError(`object key ${JSON.stringify(String(key).slice(0, 200))} ${why}`);
  return key as string;
}

/** A key prefix ("a/b/"): a safe key followed by exactly one "/". */
export function assertSafeDir(dir: string): string {
  if (!dir.endsWith('/')) throw new UnsafeKeyError(`key prefix ${JSON.stringify(dir)} must end with "/"`);
  assertSafeKey(dir.slice(0, -1));
  return dir;
}

export class UnsafeKeyError extends Error {
  readonly code = 'UnsafeKey';
}

/** Path form of a key for URLs: each segment percent-encoded, the "/" separators kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** Inverse of encodeKey for a raw URL path; null when the encoding is malformed or the key unsafe. */
export function decodeKeyPath(raw: string): string | null {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return isSafeKey(key) ? key : null;
}
