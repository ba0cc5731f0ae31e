import { createHmac } from 'node:crypto';
import { safeEqual } from '../../core/crypto.js';

/** Access id the local driver signs upload policies with (it has no real credentials). */
export const LOCAL_ACCESS_ID = 'mcube-local';

export interface LocalSecrets {
  /** SigV4 secret for upload policies */
  upload: string;
  /** HMAC key for presigned download links */
  download: Buffer;
}

/** Separate secrets per purpose, derived from the master key so every node of a cluster agrees. */
export function deriveLocalSecrets(masterKey: Buffer): LocalSecrets {
  return {
    upload: createHmac('sha256', masterKey).update('mcube/storage/post-policy/v1').digest('hex'),
    download: createHmac('sha256', masterKey).update('mcube/storage/download/v1').digest(),
  };
}

export function signDownload(secret: Buffer, key: string, expires: number): string {
  return createHmac('sha256', secret).update(`GET\n${key}\n${expires}`).digest('hex');
}

/** expires is epoch seconds as sent; false when malformed, expired or not ours. */
export function verifyDownload(secret: Buffer, key: string, expires: string | null, signature: string | null, nowMs: number): boolean {
  if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return false;
  if (Number(expires) * 1000 <= nowMs) return false;
  return safeEqual(signDownload(secret, key, Number(expires)), signature.toLowerCase());
}
