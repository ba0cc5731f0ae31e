import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackError, ZipWriter, packOfflinePackageToBuffer, packOfflinePackageToFile } from '../../packages/sdk/src/index.js';

async function unzip(buf: Buffer): Promise<Map<string, { data: Buffer; method: number }>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(buf, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))));
  const out = new Map<string, { data: Buffer; method: number }>();
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (e: yauzl.Entry) => {
      zip.openReadStream(e, async (err, stream) => {
        if (err) return reject(err);
        const parts: Buffer[] = [];
        for await (const c of stream) parts.push(c as Buffer);
        out.set(e.fileName, { data: Buffer.concat(parts), method: e.compressionMethod });
        zip.readEntry();
      });
    });
    zip.readEntry();
  });
  return out;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcube-sdk-pack-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('zip writer', () => {
  it('writes stored and deflated entries with UTF-8 names that a standard reader extracts intact', async () => {
    const parts: Buffer[] = [];
    const w = new ZipWriter({ write: async (b) => void parts.push(b) });
    const text = Buffer.from('abc'.repeat(1000));
    const random = randomBytes(300);
    await w.addFile('a/text.txt', text);
    await w.addFile('a/random.bin', random);
    await w.addFile('ü/空.txt', Buffer.alloc(0));
    await w.finish();
    const files = await unzip(Buffer.concat(parts));
    expect([...files.keys()]).toEqual(['a/text.txt', 'a/random.bin', 'ü/空.txt']);
    expect(files.get('a/text.txt')).toEqual({ data: text, method: 8 });
    expect(files.get('a/random.bin')).toEqual({ data: random, method: 0 });
    expect(files.get('ü/空.txt')!.data.length).toBe(0);
  });
});

describe('packOfflinePackage', () => {
  it('puts a build folder under the 8-digit top folder, skipping OS junk', async () => {
    const site = join(dir, 'dist');
    mkdirSync(join(site, 'www', 'css'), { recursive: true });
    writeFileSync(join(site, 'www', 'index.html'), '<html></html>');
    writeFileSync(join(site, 'www', 'css', 'a.css'), 'body{}');
    writeFileSync(join(site, '.DS_Store'), 'junk');
    const files = await unzip(await packOfflinePackageToBuffer(site, { h5Id: '12345678', mainUrl: '/www/index.html' }));
    expect([...files.keys()].sort()).toEqual(['12345678/www/css/a.css', '12345678/www/index.html']);
    expect(files.get('12345678/www/index.html')!.data.toString()).toBe('<html></html>');
  });

  it('does not nest a folder that already holds the <h5Id> folder', async () => {
    const laid = join(dir, 'laid');
    mkdirSync(join(laid, '87654321', 'www'), { recursive: true });
    writeFileSync(join(laid, '87654321', 'www', 'index.html'), 'x');
    const files = await unzip(await packOfflinePackageToBuffer(laid, { h5Id: '87654321' }));
    expect([...files.keys()]).toEqual(['87654321/www/index.html']);
  });

  it('a zip written into the folder it packs is not packed into itself; a failed pack leaves no file', async () => {
    const site = join(dir, 'self');
    mkdirSync(join(site, 'www'), { recursive: true });
    writeFileSync(join(site, 'www', 'index.html'), 'x');
    const out = join(site, 'h5.zip');
    await packOfflinePackageToFile(site, out, { h5Id: '12345678', mainUrl: '/www/index.html' });
    expect([...(await unzip(readFileSync(out))).keys()]).toEqual(['12345678/www/index.html']);
    const bad = join(dir, 'bad.zip');
    await expect(packOfflinePackageToFile(site, bad, { h5Id: '12345678', mainUrl: '/www/nope.html' })).rejects.toBeInstanceOf(PackError);
    expect(existsSync(bad)).toBe(false);
  });

  it('follows symbolic links, but refuses a folder that links back into itself (it packed the tree again ~40 levels deep)', async () => {
    const site = join(dir, 'looped');
    mkdirSync(join(site, 'www', 'real'), { recursive: true });
    writeFileSync(join(site, 'www', 'index.html'), '<html></html>');
    writeFileSync(join(site, 'www', 'real', 'a.js'), 'a');
    symlinkSync(join(site, 'www', 'real'), join(site, 'www', 'alias'));
    const files = await unzip(await packOfflinePackageToBuffer(site, { h5Id: '12345678' }));
    expect([...files.keys()].sort()).toEqual(['12345678/www/alias/a.js', '12345678/www/index.html', '12345678/www/real/a.js']);
    symlinkSync('..', join(site, 'www', 'up'));
    await expect(packOfflinePackageToBuffer(site, { h5Id: '12345678' })).rejects.toThrow(/links back to a folder it lies in/);
  });

  it('refuses a bad id, an empty folder and a missing main page', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    await expect(packOfflinePackageToBuffer(empty, { h5Id: '1234' })).rejects.toThrow(/8 digits/);
    await expect(packOfflinePackageToBuffer(empty, { h5Id: '12345678' })).rejects.toThrow(/holds no files/);
    await expect(packOfflinePackageToBuffer(join(dir, 'dist'), { h5Id: '12345678', mainUrl: '/index.html' })).rejects.toBeInstanceOf(PackError);
  });
});
