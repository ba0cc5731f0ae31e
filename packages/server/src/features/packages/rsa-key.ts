import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { PackageError } from './errors.js';

export const MIN_RSA_BITS = 1024;
export const MAX_RSA_BITS = 8192;
const MAX_PEM_CHARS = 64 * 1024;

export interface ParsedRsaKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  /** SubjectPublicKeyInfo DER in base64, one line: what Android's H5RsaProvider returns. */
  publicKeyBase64: string;
  bits: number;
}

const invalid = (why: string) => new PackageError('InvalidRsaKey', why);

/**
 * An unencrypted PEM RSA private key, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8
 * (`BEGIN PRIVATE KEY`), 1024 to 8192 bits. The same key signs CERT.json.
 */
export function parseRsaPrivateKey(pem: string): ParsedRsaKey {
  if (typeof pem !== 'string' || pem.trim() === '') throw invalid('The RSA key is empty.');
  if (pem.length > MAX_PEM_CHARS) throw invalid('The RSA key is too long to be a PEM private key.');
  const labels = [...pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!);
  if (labels.length === 0) throw invalid('The RSA key is not PEM text (expected "-----BEGIN RSA PRIVATE KEY-----" or "-----BEGIN PRIVATE KEY-----").');
  if (labels.length > 1) throw invalid(`Upload exactly one PEM block; found ${labels.length} (${labels.join(', ')}).`);
  const label = labels[0]!;
  if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,\s*ENCRYPTED/i.test(pem)) {
    throw invalid('The private key is encrypted; remove the passphrase first (openssl rsa -in key.pem -out plain.pem).');
  }
  if (label.includes('PUBLIC KEY') || label === 'CERTIFICATE') {
    throw invalid(`This PEM block is a ${label}, not a private key; upload the RSA private key (packages are signed with it).`);
  }
  if (label !== 'RSA PRIVATE KEY' && label !== 'PRIVATE KEY') {
    throw invalid(`"${label}" is not an RSA private key; generate one with openssl genrsa -out private_key.pem 2048.`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw invalid(`The RSA private key cannot be read (${(err as Error).message}).`);
  }
  if (privateKey.asymmetricKeyType !== 'rsa') {
    throw invalid(`The key is ${privateKey.asymmetricKeyType?.toUpperCase() ?? 'not RSA'}; only RSA keys (PKCS#1 v1.5 signatures) are supported.`);
  }
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw invalid(`The RSA key has ${bits} bits; at least ${MIN_RSA_BITS} are required (2048 recommended).`);
  if (bits > MAX_RSA_BITS) throw invalid(`The RSA key has ${bits} bits; at most ${MAX_RSA_BITS} are supported.`);
  const publicKey = createPublicKey(privateKey);
  // Node reads a key whose numbers disagree (a damaged exponent or CRT value) without a word, and it then signs
  // every package with signatures its own public half rejects: every client would refuse them (VERIFY_FAIL).
  const probe = Buffer.from('mcube rsa key check');
  if (!verify('sha1', probe, publicKey, sign('sha1', probe, privateKey))) {
    throw invalid("The RSA private key's numbers do not agree with each other (its signatures fail under its own public key); export the key again from its source.");
  }
  return {
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    publicKeyBase64: (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64'),
    bits,
  };
}
