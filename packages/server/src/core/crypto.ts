import { createCipheriv, createDecipheriv, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * AES-256-GCM envelope for secrets at rest: "v1:<iv>:<tag>:<ciphertext>" (base64 parts).
 * Seals with the master key; opens with it or with any open-only key, so the
 * master key can be rotated while nodes run (see `master-key reseal`).
 */
export class SecretBox {
  private readonly keys: Buffer[];

  constructor(
    private readonly key: Buffer,
    openOnly: Buffer[] = [],
  ) {
    if (key.length !== 32) throw new Error('master key must be 32 bytes');
    for (const k of openOnly) if (k.length !== 32) throw new Error('master key must be 32 bytes');
    this.keys = [key, ...openOnly.filter((k) => !k.equals(key))];
  }

  seal(plain: string | Buffer, aad = ''): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return ['v1', iv.toString('base64'), c.getAuthTag().toString('base64'), ct.toString('base64')].join(':');
  }

  open(sealed: string, aad = ''): Buffer {
    return this.openWith(sealed, aad).plain;
  }

  /** The plain text and whether the master key itself sealed it (false: an open-only key did). */
  openWith(sealed: string, aad = ''): { plain: Buffer; current: boolean } {
    const [v, iv, tag, ct] = sealed.split(':');
    if (v !== 'v1' || !iv || !tag || ct === undefined) throw new Error('not a sealed secret');
    let failure: unknown;
    for (const key of this.keys) {
      try {
        const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
        d.setAAD(Buffer.from(aad));
        d.setAuthTag(Buffer.from(tag, 'base64'));
        return { plain: Buffer.concat([d.update(Buffer.from(ct, 'base64')), d.final()]), current: key === this.key };
      } catch (e) {
        failure = e;
      }
    }
    throw failure;
  }
}

/** Constant-time comparison of two strings (length difference is not hidden, content is). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomToken(length: number, alphabet = ALNUM): string {
  const out: string[] = [];
  const max = 256 - (256 % alphabet.length);
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < max) out.push(alphabet[b % alphabet.length]!);
      if (out.length === length) break;
    }
  }
  return out.join('');
}
