import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAmr, type BuildAmrInput, type PackageLimits } from '../../packages/server/src/features/packages/index.js';
import { ZipReader } from '../../packages/server/src/features/packages/zip-reader.js';
import { eachCentralRecord, eachLocalHeader, replaceAll, writeManyEmptyFilesZip, writePatchedZip, writeZip, type FixtureEntry } from './zip-fixtures.js';

const LIMITS: PackageLimits = { maxEntries: 100, maxTotalBytes: 16 * 1024 * 1024, maxRatio: 200 };
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mcube-hostile-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const nextZip = () => join(root, `in-${++n}.zip`);

/** Runs buildAmr on the zip and returns the refusal; asserts that workDir is left empty. */
async function refusal(zipPath: string, over: Partial<BuildAmrInput> = {}): Promise<{ code: string; message: string }> {
  const workDir = join(root, `work-${n}`);
  const err = await buildAmr({
    zipPath,
    h5Id: '12345678',
    version: '1.0.0.0',
    resourceType: 1,
    appId: 'ALIPUB0000001',
    workspaceId: 'default',
    privateKey: null,
    limits: LIMITS,
    workDir,
    ...over,
  }).then(
    async (r) => {
      await r.cleanup();
      return null;
    },
    (e: unknown) => e as { code: string; message: string },
  );
  expect(err, 'expected a refusal').not.toBeNull();
  expect(existsSync(workDir) ? readdirSync(workDir) : []).toEqual([]);
  return err!;
}

async function refused(entries: FixtureEntry[], over: Partial<BuildAmrInput> = {}) {
  const path = nextZip();
  await writeZip(path, entries);
  return refusal(path, over);
}

async function refusedPatched(entries: FixtureEntry[], patch: (zip: Buffer) => void, over: Partial<BuildAmrInput> = {}) {
  const path = nextZip();
  await writePatchedZip(path, entries, patch);
  return refusal(path, over);
}

const ok = (name = '12345678/www/index.html'): FixtureEntry => ({ name, data: '<p>ok</p>' });

/** Central-directory records by name. */
function centralByName(zip: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  eachCentralRecord(zip, (at) => out.set(zip.toString('utf8', at + 46, at + 46 + zip.readUInt16LE(at + 28)), at));
  return out;
}

describe('not a zip', () => {
  it('refuses text, an empty file and random bytes as NotAZip', async () => {
    for (const body of [Buffer.from('hello, this is not a zip'), Buffer.alloc(0), Buffer.alloc(4096, 7)]) {
      const path = nextZip();
      writeFileSync(path, body);
      expect(await refusal(path)).toMatchObject({ code: 'NotAZip' });
    }
  });

  it('refuses a zip cut short as TruncatedZip', async () => {
    const path = nextZip();
    await writeZip(path, [ok(), { name: '12345678/www/a.bin', data: randomBytes(20000) }]);
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, Math.floor(full.length / 2)));
    expect(await refusal(path)).toMatchObject({ code: 'TruncatedZip' });
  });

  it('refuses damaged entry data (deflate error or CRC mismatch) as TruncatedZip', async () => {
    const data = randomBytes(50000);
    for (const compress of [true, false]) {
      const err = await refusedPatched([{ name: '12345678/a.bin', data, compress }], (zip) => {
        eachLocalHeader(zip, (at) => {
          const start = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
          for (let i = 100; i < 200; i++) zip[start + i] = zip[start + i]! ^ 0x5a;
        });
      });
      expect(err.code).toBe('TruncatedZip');
    }
  });
});

describe('hostile names', () => {
  it('refuses ".." segments as ZipSlip, with "/" or "\\" separators', async () => {
    expect(await refusedPatched([ok(), ok('12345678/XX/evil.txt')], (z) => replaceAll(z, '12345678/XX/evil', '12345678/../evil'))).toMatchObject({
      code: 'ZipSlip',
    });
    expect(await refusedPatched([ok(), ok('12345678/www/zz/evil')], (z) => replaceAll(z, 'www/zz/evil', 'www\\..\\evil'))).toMatchObject({
      code: 'ZipSlip',
    });
  });

  it('refuses absolute paths, drive letters and backslashes as AbsolutePath', async () => {
    expect(await refusedPatched([ok(), ok('Xetc/passwd')], (z) => replaceAll(z, 'Xetc/passwd', '/etc/passwd'))).toMatchObject({ code: 'AbsolutePath' });
    expect(await refusedPatched([ok(), ok('CX/evil.txt')], (z) => replaceAll(z, 'CX/evil.txt', 'C:/evil.txt'))).toMatchObject({ code: 'AbsolutePath' });
    expect(await refusedPatched([ok(), ok('XXserver/share/x')], (z) => replaceAll(z, 'XXserver/share/x', '\\\\server\\share\\x'))).toMatchObject({
      code: 'AbsolutePath',
    });
    const err = await refusedPatched([ok('12345678/www/app.js')], (z) => replaceAll(z, '12345678/www/app.js', '12345678\\www\\app.js'));
    expect(err).toMatchObject({ code: 'AbsolutePath' });
    expect(err.message).toMatch(/backslash/);
  });

  it('refuses names that are too long, not UTF-8, contain control characters, or have "." or empty segments (BadLayout)', async () => {
    const bad: [string, string][] = [
      ['12345678/ab.js', '12345678/\xc3(.js'],
      ['12345678/aX.js', '12345678/a\x01.js'],
      ['12345678/X/a.js', '12345678/./a.js'],
      ['12345678/X/a.js', '12345678//a.js'],
    ];
    expect(await refused([ok(), ok(`12345678/${'a'.repeat(1100)}.js`)])).toMatchObject({ code: 'BadLayout' });
    for (const [from, to] of bad) {
      const err = await refusedPatched([ok(from)], (z) => {
        const a = Buffer.from(from);
        const b = Buffer.from(to, 'latin1');
        for (let i = z.indexOf(a); i >= 0; i = z.indexOf(a, i + 1)) b.copy(z, i);
      });
      expect(err.code, to).toBe('BadLayout');
    }
  });
});

describe('entry types and flags', () => {
  it('refuses symbolic links and special files as LinkEntry', async () => {
    expect(await refused([ok(), { name: '12345678/www/link', data: '/etc/passwd', mode: 0o120777 }])).toMatchObject({ code: 'LinkEntry' });
    expect(await refused([ok(), { name: '12345678/www/dev', data: '', mode: 0o020644 }])).toMatchObject({ code: 'LinkEntry' });
    expect(await refused([ok(), { name: '12345678/www/fifo', data: '', mode: 0o010644 }])).toMatchObject({ code: 'LinkEntry' });
  });

  it('refuses encrypted entries (general purpose bit 0) as EncryptedEntry', async () => {
    const err = await refusedPatched([ok(), ok('12345678/secret.txt')], (zip) => {
      const at = centralByName(zip).get('12345678/secret.txt')!;
      zip.writeUInt16LE(zip.readUInt16LE(at + 8) | 1, at + 8);
    });
    expect(err.code).toBe('EncryptedEntry');
  });

  it('refuses compression methods other than stored and deflate as UnsupportedEntry', async () => {
    const err = await refusedPatched([ok(), ok('12345678/b.txt')], (zip) => zip.writeUInt16LE(12, centralByName(zip).get('12345678/b.txt')! + 10));
    expect(err.code).toBe('UnsupportedEntry');
  });

  it('refuses exact duplicates, a file and a folder of the same name, and a file used as a folder (DuplicateEntry)', async () => {
    expect(await refused([ok(), ok()])).toMatchObject({ code: 'DuplicateEntry' });
    expect(await refused([ok('12345678/www/a'), { name: '12345678/www/a/' }])).toMatchObject({ code: 'DuplicateEntry' });
    expect(await refused([ok('12345678/www/a'), ok('12345678/www/a/b.js')])).toMatchObject({ code: 'DuplicateEntry' });
    expect(await refused([ok('12345678/www/a/b.js'), ok('12345678/www/a')])).toMatchObject({ code: 'DuplicateEntry' });
  });

  it('accepts names that differ only by case (clients key the tar by exact name)', async () => {
    const path = nextZip();
    await writeZip(path, [ok('12345678/www/Logo.png'), ok('12345678/www/logo.png')]);
    const r = await buildAmr({
      zipPath: path, h5Id: '12345678', version: '1.0.0.0', resourceType: 1, appId: 'A', workspaceId: 'w', privateKey: null, limits: LIMITS, workDir: join(root, `work-${n}`),
    });
    expect(r.entries).toEqual(['hpmfile.json', 'www/', 'www/Logo.png', 'www/logo.png']);
    await r.cleanup();
  });
});

describe('size, count and ratio caps', () => {
  it('refuses more entries than maxEntries, counting folders the tar needs (TooManyEntries)', async () => {
    const five = [1, 2, 3, 4, 5].map((i) => ok(`12345678/f${i}.js`));
    expect(await refused(five, { limits: { ...LIMITS, maxEntries: 4 } })).toMatchObject({ code: 'TooManyEntries' });
    const deep = [ok('12345678/a/b/c/d/e.js')];
    expect(await refused(deep, { limits: { ...LIMITS, maxEntries: 4 } })).toMatchObject({ code: 'TooManyEntries' });
    // and the hpmfile.json the build adds: four files make a tar of five entries
    const four = [1, 2, 3, 4].map((i) => ok(`12345678/f${i}.js`));
    expect(await refused(four, { limits: { ...LIMITS, maxEntries: 4 } })).toMatchObject({ code: 'TooManyEntries', message: expect.stringMatching(/hpmfile\.json the server adds/) });
    const path = nextZip();
    await writeZip(path, four.slice(1));
    const r = await buildAmr({ zipPath: path, h5Id: '12345678', version: '1.0.0.0', resourceType: 1, appId: 'A', workspaceId: 'w', privateKey: null, limits: { ...LIMITS, maxEntries: 4 }, workDir: join(root, `work-${n}`) });
    expect(r.entries).toHaveLength(4);
    await r.cleanup();
  });

  it('refuses a declared total over maxTotalBytes (TooLarge)', async () => {
    expect(await refused([{ name: '12345678/a.bin', data: randomBytes(2000) }], { limits: { ...LIMITS, maxTotalBytes: 1000 } })).toMatchObject({
      code: 'TooLarge',
    });
    const three = [1, 2, 3].map((i) => ({ name: `12345678/${i}.bin`, data: randomBytes(400) }));
    expect(await refused(three, { limits: { ...LIMITS, maxTotalBytes: 1000 } })).toMatchObject({ code: 'TooLarge' });
  });

  it('refuses an entry of 1 MiB or more expanding over maxRatio, but not a small one (ZipBomb)', async () => {
    expect(await refused([ok(), { name: '12345678/zeros.bin', data: Buffer.alloc(2 * 1024 * 1024) }])).toMatchObject({ code: 'ZipBomb' });
    const path = nextZip();
    await writeZip(path, [ok(), { name: '12345678/small-zeros.bin', data: Buffer.alloc(512 * 1024) }]);
    const r = await buildAmr({
      zipPath: path, h5Id: '12345678', version: '1', resourceType: 1, appId: 'A', workspaceId: 'w', privateKey: null, limits: LIMITS, workDir: join(root, `work-${n}`),
    });
    await r.cleanup();
  });

  it('refuses an archive whose small entries together expand over maxRatio (ZipBomb)', async () => {
    const many = [1, 2, 3, 4].map((i) => ({ name: `12345678/z${i}.bin`, data: Buffer.alloc(1_000_000) }));
    const err = await refused(many);
    expect(err.code).toBe('ZipBomb');
    expect(err.message).toMatch(/expands \d+ times/);
  });

  it('refuses entries sharing one data region (overlapping-files bomb) as ZipBomb', async () => {
    const big = randomBytes(300_000);
    const err = await refusedPatched(
      [{ name: '12345678/a.bin', data: big, compress: false }, ok('12345678/b.bin'), ok('12345678/c.bin')],
      (zip) => {
        const byName = centralByName(zip);
        const a = byName.get('12345678/a.bin')!;
        for (const other of ['12345678/b.bin', '12345678/c.bin']) {
          const at = byName.get(other)!;
          zip.copy(zip, at + 10, a + 10, a + 28); // method, time, date, crc, sizes
          zip.copy(zip, at + 42, a + 42, a + 46); // local header offset
        }
      },
    );
    expect(err.code).toBe('ZipBomb');
  });

  it('counts real bytes: an entry inflating beyond its declared size is refused (ZipBomb), a short one is TruncatedZip', async () => {
    const data = Buffer.from('abcdefghij'.repeat(500));
    // the same lie in the directory record and in the local header (a lie in one only is a disagreement, see below)
    const lying = (size: number) => (zip: Buffer) => {
      const at = centralByName(zip).get('12345678/a.txt')!;
      zip.writeUInt32LE(size, at + 24);
      zip.writeUInt32LE(size, zip.readUInt32LE(at + 42) + 22);
    };
    expect(await refusedPatched([{ name: '12345678/a.txt', data }], lying(100))).toMatchObject({ code: 'ZipBomb' });
    expect(await refusedPatched([{ name: '12345678/a.txt', data }], lying(6000))).toMatchObject({ code: 'TruncatedZip' });
  });

  it('refuses a 100,000-entry archive from its end record, before reading the directory, with bounded memory', async () => {
    const path = nextZip();
    await writeManyEmptyFilesZip(path, 100_000, (i) => `12345678/f/${i}.txt`);
    // The fixture is a sound ZIP64 archive: its records can be read.
    const zip = await ZipReader.open(path);
    expect(zip.entryCount).toBe(100_000);
    expect((await zip.next())?.uncompressedSize).toBe(0);
    zip.close();
    const before = process.memoryUsage().heapUsed;
    const err = await refusal(path, { limits: { ...LIMITS, maxEntries: 20_000 } });
    const grown = process.memoryUsage().heapUsed - before;
    expect(err.code).toBe('TooManyEntries');
    expect(err.message).toMatch(/declares 100000 entries/);
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('layout', () => {
  it('refuses a wrong or missing top-level folder, two top-level folders, files at the root and a bad H5 id (BadLayout)', async () => {
    expect(await refused([ok('87654321/www/index.html')])).toMatchObject({ code: 'BadLayout' });
    expect(await refused([ok('www/index.html')])).toMatchObject({ code: 'BadLayout' });
    expect(await refused([ok(), ok('other/index.html')])).toMatchObject({ code: 'BadLayout' });
    expect(await refused([ok(), ok('index.html')])).toMatchObject({ code: 'BadLayout' });
    expect(await refused([ok('1234567/index.html')], { h5Id: '1234567' })).toMatchObject({ code: 'BadLayout' });
    expect(await refused([ok('../12345678/index.html'.replace('../', ''))], { h5Id: '../12345678' })).toMatchObject({ code: 'BadLayout' });
  });

  it('refuses a package without files: folders only, junk only, no entries (EmptyPackage)', async () => {
    expect(await refused([{ name: '12345678/' }, { name: '12345678/www/' }])).toMatchObject({ code: 'EmptyPackage' });
    expect(await refused([{ name: '__MACOSX/12345678/._a', data: 'x' }, { name: '12345678/.DS_Store', data: 'x' }])).toMatchObject({
      code: 'EmptyPackage',
    });
    expect(await refused([])).toMatchObject({ code: 'EmptyPackage' });
  });

  it('checks junk entries for safety before ignoring them', async () => {
    expect(await refused([ok(), { name: '__MACOSX/12345678/link', data: '/etc', mode: 0o120777 }])).toMatchObject({ code: 'LinkEntry' });
  });
});
