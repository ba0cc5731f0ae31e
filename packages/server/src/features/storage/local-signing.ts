import { createHmac } from 'node:crypto';
import { safeEqual } from '../../core/crypto.js';

/** Access id the local driver signs upload policies with (it has no real credentials). */
export const LOCAL_ACCESS_ID = 'mcube-local';

export interface LocalSecrets {
  /** SigV4 secret for upload policies */
  upload: string;
  /** HMAC key for presigned download links */
  download: Buffer;
  /** the same, derived from open-only master keys: what was signed before a key rotation still verifies */
  older: { upload: string[]; download: Buffer[] };
}

/** Separate secrets per purpose, derived from the master key so every node of a cluster agrees. */
export function deriveLocalSecrets(masterKey: Buffer, openOnly: Buffer[] = []): LocalSecrets {
  const upload = (k: Buffer) => createHmac('sha256', k).update('mcube/storage/post-policy/v1').digest('hex');
  const download = (k: Buffer) => createHmac('sha256', k).update('mcube/storage/download/v1').digest();
  return { upload: upload(masterKey), download: download(masterKey), older: { upload: openOnly.map(upload), download: openOnly.map(download) } };
}

export function signDownload(secret: Buffer, key: string, expires: number): string {
  return createHmac('sha256', secret).update(`GET\n${key}\n${expires}`).digest('hex');
}

/** expires is epoch seconds as sent; false when malformed, expired or not ours. */
export function verifyDownload(secrets: Buffer | Buffer[], key: string, expires: string | null, signature: string | null, nowMs: number): boolean {
  if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return false;
  if (Number(expires) * 1000 <= nowMs) return false;
  const given = signature.toLowerCase();
  return (Array.isArray(secrets) ? secrets : [secrets]).some((secret) => safeEqual(signDownload(secret, key, Number(expires)), given));
}
