import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseRsaPrivateKey } from '../../packages/server/src/features/packages/index.js';

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pkcs1 = rsa2048.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
const pkcs8 = rsa2048.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function refusal(pem: string): string {
  try {
    parseRsaPrivateKey(pem);
  } catch (err) {
    expect((err as { code: string }).code).toBe('InvalidRsaKey');
    return (err as Error).message;
  }
  throw new Error('expected InvalidRsaKey');
}

describe('parseRsaPrivateKey', () => {
  it('accepts PKCS#1 and PKCS#8 PEM and derives the same public key in PEM and SPKI base64', () => {
    expect(pkcs1).toContain('BEGIN RSA PRIVATE KEY');
    expect(pkcs8).toContain('BEGIN PRIVATE KEY');
    const a = parseRsaPrivateKey(pkcs1);
    const b = parseRsaPrivateKey(`\n${pkcs8}\n`);
    expect(a.bits).toBe(2048);
    expect(b.publicKeyBase64).toBe(a.publicKeyBase64);
    expect(a.publicKeyPem).toBe(rsa2048.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(a.publicKeyBase64).toBe(a.publicKeyPem.replace(/-----[A-Z ]+-----|\s/g, ''));
    const data = Buffer.from('Manifest bytes');
    const pub = createPublicKey({ key: Buffer.from(a.publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
    expect(verify('sha1', data, pub, sign('sha1', data, b.privateKey))).toBe(true);
  });

  it('gives the same base64 as the vendor recipe (openssl rsa -pubout, header and newlines removed)', () => {
    const out = execFileSync('openssl', ['rsa', '-pubout'], { input: pkcs1, stdio: ['pipe', 'pipe', 'ignore'] }).toString();
    expect(parseRsaPrivateKey(pkcs1).publicKeyBase64).toBe(out.replace(/-----[A-Z ]+-----|\s/g, ''));
  });

  it('accepts 1024-bit keys and refuses 512-bit keys', () => {
    const k1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(parseRsaPrivateKey(k1024).bits).toBe(1024);
    const k512 = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(refusal(k512)).toMatch(/512 bits; at least 1024/);
  });

  it('refuses public keys and more than one PEM block', () => {
    expect(refusal(rsa2048.publicKey.export({ type: 'spki', format: 'pem' }) as string)).toMatch(/is a PUBLIC KEY, not a private key/);
    expect(refusal(rsa2048.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string)).toMatch(/is a RSA PUBLIC KEY, not a private key/);
    expect(refusal(`${pkcs1}${pkcs8}`)).toMatch(/exactly one PEM block/);
  });

  it('refuses encrypted keys, PKCS#8 and legacy PKCS#1 alike', () => {
    const enc8 = rsa2048.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string;
    const enc1 = rsa2048.privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string;
    expect(enc1).toContain('Proc-Type: 4,ENCRYPTED');
    expect(refusal(enc8)).toMatch(/encrypted/);
    expect(refusal(enc1)).toMatch(/encrypted/);
  });

  it('refuses EC, Ed25519 and RSA-PSS keys', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(refusal(ec.export({ type: 'sec1', format: 'pem' }) as string)).toMatch(/EC PRIVATE KEY" is not an RSA private key/);
    expect(refusal(ec.export({ type: 'pkcs8', format: 'pem' }) as string)).toMatch(/The key is EC/);
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(refusal(ed)).toMatch(/The key is ED25519/);
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(refusal(pss)).toMatch(/RSA-PSS/);
  });

  it('refuses a key whose numbers disagree, which would sign every package with signatures its public key rejects', () => {
    const jwk = rsa2048.privateKey.export({ format: 'jwk' });
    // a changed public exponent, and a damaged private exponent with its CRT value: both read without complaint
    const flipped = (v: string) => {
      const b = Buffer.from(v, 'base64url');
      b[5]! ^= 1;
      return b.toString('base64url');
    };
    for (const change of [{ e: 'AQAD' }, { d: flipped(jwk.d!), dp: flipped(jwk.dp!) }]) {
      const broken = createPrivateKey({ key: { ...jwk, ...change }, format: 'jwk' }).export({ type: 'pkcs1', format: 'pem' }) as string;
      expect(refusal(broken)).toMatch(/numbers do not agree/);
    }
  });

  it('refuses garbage: empty text, non-PEM text, a PEM block with a broken body', () => {
    expect(refusal('')).toMatch(/empty/);
    expect(refusal('not a key at all')).toMatch(/not PEM/);
    expect(refusal('-----BEGIN RSA PRIVATE KEY-----\nAAAAB3NzaC1yc2E=\n-----END RSA PRIVATE KEY-----\n')).toMatch(/cannot be read/);
    expect(refusal(pkcs1.replace(/[A-Za-z]{20}/, 'x'))).toMatch(/cannot be read/);
  });
});
