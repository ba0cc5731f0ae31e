import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { BlobNotFoundError, BlobTooLargeError, type BlobStore } from '../../packages/server/src/core/blob-store.js';
import { createLogger } from '../../packages/server/src/core/logger.js';
import { createBlobStore } from '../../packages/server/src/features/storage/index.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { makeTestEnv, type TestEnv } from '../helpers/server.js';

const readAll = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

for (const driver of ['local', 's3'] as const) {
  describe(`BlobStore contract, ${driver} driver`, () => {
    let s3: RunningS3rver | undefined;
    let env: TestEnv;
    let store: BlobStore;
    beforeAll(async () => {
      if (driver === 's3') s3 = await startS3rver('contract');
      env = makeTestEnv(s3?.env ?? {});
      store = await createBlobStore(loadConfig(env.env), createLogger('silent'));
    });
    afterAll(async () => {
      await store?.close?.();
      await s3?.close();
      await env?.cleanup();
    });

    it('a download link with a lifetime is signed for that long and never the public base (the download gate)', async () => {
      const based = await createBlobStore(loadConfig({ ...env.env, MCUBE_DOWNLOAD_BASE_URL: 'https://cdn.example.com/m' }), createLogger('silent'));
      try {
        const body = randomBytes(100);
        await based.put('pkg/gate/app.apk', body);
        expect(await based.downloadUrl('pkg/gate/app.apk')).toBe('https://cdn.example.com/m/pkg/gate/app.apk');
        const short = new URL(await based.downloadUrl('pkg/gate/app.apk', { ttlSec: 120 }));
        expect(short.host).not.toBe('cdn.example.com');
        if (driver === 's3') {
          expect(short.searchParams.get('X-Amz-Expires')).toBe('120');
          expect(Buffer.from(await (await fetch(short)).arrayBuffer()).equals(body)).toBe(true);
        } else {
          const left = Number(short.searchParams.get('X-Mcube-Expires')) * 1000 - Date.now();
          expect(left).toBeGreaterThan(100_000);
          expect(left).toBeLessThanOrEqual(120_000);
        }
      } finally {
        await based.close?.();
      }
    });

    it('put (buffer, sized stream, unsized stream, file), head, read, list, delete', async () => {
      const a = randomBytes(3000);
      const b = randomBytes(2000);
      const c = randomBytes(1000);
      const d = randomBytes(500);
      await store.put('p/x/a.bin', a);
      await store.put('p/x/b.bin', Readable.from([b.subarray(0, 700), b.subarray(700)]), { size: b.length });
      await store.put('p/y/c.bin', Readable.from([c.subarray(0, 10), c.subarray(10)]));
      const file = join(env.dataDir, 'd.src');
      writeFileSync(file, d);
      await store.putFile('p/y/d.bin', file, { contentType: 'application/octet-stream' });
      await store.put('q/other.bin', Buffer.from('z'));

      expect(await store.head('p/x/a.bin')).toMatchObject({ key: 'p/x/a.bin', size: 3000 });
      expect(await store.head('p/x/nothing.bin')).toBeNull();
      expect(await store.head('p/x')).toBeNull();
      // bytes come back exactly (no checksum framing from the SDK)
      expect((await readAll(await store.getStream('p/x/b.bin'))).equals(b)).toBe(true);
      expect((await readAll(await store.getStream('p/y/c.bin'))).equals(c)).toBe(true);
      expect((await readAll(await store.getStream('p/y/d.bin'))).equals(d)).toBe(true);

      const listed: string[] = [];
      for await (const o of store.list('p/')) listed.push(`${o.key}:${o.size}`);
      expect(listed.sort()).toEqual(['p/x/a.bin:3000', 'p/x/b.bin:2000', 'p/y/c.bin:1000', 'p/y/d.bin:500']);
      const partial: string[] = [];
      for await (const o of store.list('p/x/a')) partial.push(o.key);
      expect(partial).toEqual(['p/x/a.bin']);

      const out = join(env.dataDir, 'a.out');
      expect(await store.downloadToFile('p/x/a.bin', out, 3000)).toBe(3000);
      expect(readFileSync(out).equals(a)).toBe(true);
      const out2 = join(env.dataDir, 'a2.out');
      await expect(store.downloadToFile('p/x/a.bin', out2, 2999)).rejects.toBeInstanceOf(BlobTooLargeError);
      expect(existsSync(out2)).toBe(false);
      await expect(store.downloadToFile('p/x/none.bin', out2, 10)).rejects.toBeInstanceOf(BlobNotFoundError);
      await expect(store.getStream('p/x/none.bin')).rejects.toBeInstanceOf(BlobNotFoundError);

      await store.put('p/x/a.bin', Buffer.from('replaced'));
      expect((await readAll(await store.getStream('p/x/a.bin'))).toString()).toBe('replaced');
      await store.delete('p/x/a.bin');
      await store.delete('p/x/a.bin');
      expect(await store.head('p/x/a.bin')).toBeNull();
    });

    it('deleteMany removes every listed object, more than one DeleteObjects call holds, missing keys included', async () => {
      const keys = Array.from({ length: 1203 }, (_, i) => `m/${i % 7}/f${i}.txt`);
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, Buffer.from(k))));
      await store.put('m-keep/x.txt', Buffer.from('x'));
      await store.deleteMany([...keys, 'm/none/missing.txt']);
      const left: string[] = [];
      for await (const o of store.list('m')) left.push(o.key);
      expect(left).toEqual(['m-keep/x.txt']);
      await store.deleteMany([]);
      await store.put('ok/key', Buffer.from('kept'));
      await expect(store.deleteMany(['ok/key', '../escape'])).rejects.toThrow(/key/);
      // every key is checked before the first goes
      expect(await store.head('ok/key')).not.toBeNull();
    });

    it('refuses unsafe keys on every operation', async () => {
      for (const key of ['../escape', 'a/../../escape', '/abs', 'a//b', 'a\\b', 'a\u0000b', '', 'a/./b', 'a/']) {
        await expect(store.put(key, Buffer.from('x')), JSON.stringify(key)).rejects.toThrow(/key/);
        await expect(store.head(key)).rejects.toThrow(/key/);
        await expect(store.delete(key)).rejects.toThrow(/key/);
        expect(() => store.urlForKey(key)).toThrow(/key/);
      }
      await expect(store.createUploadToken({ dir: 'uploads/../x/', maxBytes: 10, expiresInSec: 60 })).rejects.toThrow(/key/);
      await expect(store.createUploadToken({ dir: 'uploads/x', maxBytes: 10, expiresInSec: 60 })).rejects.toThrow(/end with/);
      if (driver === 'local') expect(existsSync(join(env.dataDir, 'escape'))).toBe(false);
    });
  });
}
