import { createHash, createPublicKey, generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAmr, parseRsaPrivateKey, type BuildAmrInput } from '../../packages/server/src/features/packages/index.js';
import { parseTar, readZip, writeZip, type FixtureEntry } from './zip-fixtures.js';

const LIMITS = { maxEntries: 1000, maxTotalBytes: 64 * 1024 * 1024, maxRatio: 200 };
const BUILD_TIME = new Date('2025-01-02T03:04:05Z');
let root: string;
let key: { privateKey: KeyObject; publicKeyBase64: string };

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'mcube-amr-'));
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }) as string;
  key = parseRsaPrivateKey(pem);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
async function build(entries: FixtureEntry[], over: Partial<BuildAmrInput> = {}) {
  const zipPath = join(root, `in-${++n}.zip`);
  await writeZip(zipPath, entries);
  const workDir = join(root, `work-${n}`);
  const result = await buildAmr({
    zipPath,
    h5Id: '12345678',
    version: '1.0.0.2',
    resourceType: 1,
    appId: 'ALIPUB0000001',
    workspaceId: 'default',
    privateKey: key.privateKey,
    limits: LIMITS,
    workDir,
    mtime: BUILD_TIME,
    ...over,
  });
  const parts = await readZip(result.amrPath);
  const part = (name: string) => parts.find((p) => p.name === name)!.data;
  return { result, parts, part, workDir, zipPath };
}

const bigAsset = randomBytes(1024 * 1024 + 123);
const longName = `12345678/www/${'deep-folder-name/'.repeat(6)}${'x'.repeat(40)}.js`;
const normalEntries: FixtureEntry[] = [
  { name: '12345678/' },
  { name: '12345678/www/' },
  { name: '12345678/www/index.html', data: '<!doctype html><title>hi</title>' },
  { name: '12345678/www/css/app.css', data: 'body{margin:0}'.repeat(200) },
  { name: '12345678/www/img/big.bin', data: bigAsset },
  { name: '12345678/www/中文/页面.html', data: '你好' },
  { name: longName, data: 'console.log(1)' },
  { name: '12345678/Common.js', data: 'var a;' },
  { name: '12345678/stored.txt', data: 'stored, not deflated', compress: false },
  { name: '__MACOSX/12345678/www/._index.html', data: 'junk' },
  { name: '12345678/www/.DS_Store', data: 'junk' },
  { name: '12345678/.DS_Store', data: 'junk' },
];
const normalFiles = normalEntries.filter((e) => e.data !== undefined && !e.name.startsWith('__MACOSX') && !e.name.endsWith('.DS_Store'));

describe('buildAmr: normal package', () => {
  it('writes Manifest.xml, CERT.json and <h5Id>.tar in that order, all deflated, with the console Manifest bytes', async () => {
    const { result, parts, part } = await build(normalEntries);
    expect(parts.map((p) => p.name)).toEqual(['Manifest.xml', 'CERT.json', '12345678.tar']);
    expect(parts.every((p) => p.compressionMethod === 8)).toBe(true);
    const manifest = part('Manifest.xml');
    expect(manifest.toString('utf8')).toBe(
      '<?xml version="1.0" encoding="utf-8"?>\n<package>\n  <uid>12345678</uid>\n  <name>h5app</name>\n  <version>1.0.0.2</version>\n</package>\n',
    );
    expect(manifest.length).toBe(132);
    const amr = readFileSync(result.amrPath);
    expect(result.size).toBe(amr.length);
    expect(result.md5).toBe(createHash('md5').update(amr).digest('hex'));
    expect(result.tarSize).toBe(part('12345678.tar').length);
    await result.cleanup();
  });

  it('signs the exact tar and Manifest bytes with SHA1withRSA; the SPKI base64 key verifies them', async () => {
    const { result, part } = await build(normalEntries);
    const cert = part('CERT.json').toString('utf8');
    expect(cert.endsWith('} \n')).toBe(true);
    expect(cert.split('\n')).toHaveLength(2);
    const sigs = JSON.parse(cert) as Record<string, string>;
    expect(Object.keys(sigs)).toEqual(['12345678.tar', 'Manifest.xml']);
    // The way Android builds the key: X.509 SubjectPublicKeyInfo from base64.
    const pub = createPublicKey({ key: Buffer.from(key.publicKeyBase64, 'base64'), format: 'der', type: 'spki' });
    expect(sigs['12345678.tar']).toHaveLength(344); // 256-byte signature of a 2048-bit key
    expect(verify('sha1', part('12345678.tar'), pub, Buffer.from(sigs['12345678.tar']!, 'base64'))).toBe(true);
    expect(verify('sha1', part('Manifest.xml'), pub, Buffer.from(sigs['Manifest.xml']!, 'base64'))).toBe(true);
    const tampered = Buffer.from(part('12345678.tar'));
    tampered[600] = tampered[600]! ^ 1;
    expect(verify('sha1', tampered, pub, Buffer.from(sigs['12345678.tar']!, 'base64'))).toBe(false);
    await result.cleanup();
  });

  it('tars the files below the stripped <h5Id>/ folder as GNU tar (admin/admin 500, 0644/0755, folders, ustar prefix for long paths, 10240 records)', async () => {
    const { result, part } = await build(normalEntries);
    const tar = part('12345678.tar');
    expect(tar.length % 10240).toBe(0);
    const { entries, endOffset } = parseTar(tar);
    expect(tar.subarray(endOffset).every((b) => b === 0)).toBe(true);
    expect(tar.length - endOffset).toBeGreaterThanOrEqual(1024);
    for (const e of entries) {
      // paths over 100 bytes: a POSIX ustar header, cut at a "/" into prefix and name (no GNU LongLink,
      // which Nebula's Android reader does not know: it kept the cut name and the link as a file)
      expect(e.magic).toBe(Buffer.byteLength(e.name) > 100 ? 'ustar\u000000' : 'ustar  \0');
      expect(e.longLink).toBe(false);
      expect(e.prefix === '').toBe(Buffer.byteLength(e.name) <= 100);
      expect([e.uid, e.gid, e.uname, e.gname]).toEqual([500, 500, 'admin', 'admin']);
      expect(e.mode).toBe(e.type === '5' ? 0o755 : 0o644);
      expect(e.name.startsWith('./') || e.name.startsWith('/')).toBe(false);
    }
    const names = entries.map((e) => e.name);
    expect(names).toEqual(result.entries);
    // Files: exactly the zip's files, minus junk, with the top folder stripped and the same bytes.
    const files = entries.filter((e) => e.type === '0' && e.name !== 'hpmfile.json');
    expect(files.map((f) => f.name).sort()).toEqual(normalFiles.map((f) => f.name.slice('12345678/'.length)).sort());
    for (const f of normalFiles) {
      const got = files.find((e) => e.name === f.name.slice('12345678/'.length))!;
      expect(got.data.equals(Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data!))).toBe(true);
    }
    // Every folder above a file is present, before its content; top-level names sorted.
    for (const f of files) {
      const segs = f.name.split('/');
      for (let i = 1; i < segs.length; i++) {
        const dir = `${segs.slice(0, i).join('/')}/`;
        expect(names.indexOf(dir)).toBeGreaterThanOrEqual(0);
        expect(names.indexOf(dir)).toBeLessThan(names.indexOf(f.name));
      }
    }
    expect(names.filter((x) => !x.slice(0, -1).includes('/'))).toEqual(['Common.js', 'hpmfile.json', 'stored.txt', 'www/']);
    expect(names.some((x) => x.includes('.DS_Store') || x.includes('__MACOSX'))).toBe(false);
    const long = entries.find((e) => e.name === longName.slice(9))!;
    // the name field as long as it may be: cut at the first "/" that leaves at most 100 bytes
    expect(long.prefix).toBe(`www/${'deep-folder-name/'.repeat(2)}deep-folder-name`);
    expect(Buffer.byteLength(long.name) - long.prefix.length - 1).toBeLessThanOrEqual(100);
    expect(long.data.toString()).toBe('console.log(1)');
    const hpm = JSON.parse(entries.find((e) => e.name === 'hpmfile.json')!.data.toString('utf8'));
    expect(hpm).toMatchObject({ appid: '12345678', version: '1.0.0.2', name: 'h5app' });
    expect(result.files).toBe(normalFiles.length);
    await result.cleanup();
  });

  it('writes the same bytes as GNU tar --format=gnu --sort=name for the same tree (paths up to 100 bytes), and tar lists every path', async () => {
    const full = await build(normalEntries);
    const fullTar = join(full.workDir, 'full.tar');
    writeFileSync(fullTar, full.part('12345678.tar'));
    expect(execFileSync('tar', ['-tf', fullTar], { encoding: 'utf8' }).trim().split('\n')).toEqual(full.result.entries);
    await full.result.cleanup();
    // GNU tar writes LongLink entries for longer paths, so the byte comparison leaves them out
    const { result, part, workDir } = await build(normalEntries.filter((e) => e.name !== longName));
    const tarPath = join(workDir, 'check.tar');
    writeFileSync(tarPath, part('12345678.tar'));
    const listed = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).trim().split('\n');
    expect(listed).toEqual(result.entries);
    const version = execFileSync('tar', ['--version'], { encoding: 'utf8' });
    if (version.includes('GNU tar')) {
      const out = join(workDir, 'x');
      mkdirSync(out);
      execFileSync('tar', ['-xf', tarPath, '-C', out]);
      const top = readdirSync(out).sort();
      const again = join(workDir, 'again.tar');
      execFileSync('tar', ['--format=gnu', '--sort=name', '--owner=admin:500', '--group=admin:500', '--mode=u=rwX,go=rX', '-cf', again, '-C', out, ...top]);
      expect(readFileSync(again).equals(part('12345678.tar'))).toBe(true);
    }
    await result.cleanup();
  });

  it('leaves CERT.json values empty without a key, and the same input gives the same .amr', async () => {
    const a = await build(normalEntries, { privateKey: null });
    expect(a.part('CERT.json').toString('utf8')).toBe('{"12345678.tar":"","Manifest.xml":""} \n');
    const b = await build(normalEntries, { privateKey: null });
    expect(b.result.md5).toBe(a.result.md5);
    await a.result.cleanup();
    await b.result.cleanup();
  });

  it('keeps an uploaded root hpmfile.json instead of the template', async () => {
    const own = '{"appid":"12345678","mine":true}';
    const { result, part } = await build([{ name: '12345678/hpmfile.json', data: own }, { name: '12345678/index.html', data: 'x' }]);
    const { entries } = parseTar(part('12345678.tar'));
    expect(entries.map((e) => e.name)).toEqual(['hpmfile.json', 'index.html']);
    expect(entries[0]!.data.toString()).toBe(own);
    await result.cleanup();
  });

  it.each([
    ['a file name over 100 bytes', `12345678/www/${'n'.repeat(101)}.js`],
    ['a folder part over 155 bytes before a long name', `12345678/${'f'.repeat(150)}/${'g'.repeat(10)}/${'n'.repeat(95)}.js`],
  ])('refuses %s, which no tar header a Nebula client reads can hold (BadLayout)', async (_what, name) => {
    const err = await build([{ name, data: 'x' }]).then(
      () => null,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('BadLayout');
    expect(err?.message).toMatch(/too long for the package/);
  });

  it('cleanup() removes everything it wrote under workDir', async () => {
    const { result, workDir } = await build(normalEntries);
    expect(statSync(result.amrPath).size).toBe(result.size);
    expect(readdirSync(workDir)).toHaveLength(1);
    await result.cleanup();
    await result.cleanup();
    expect(existsSync(result.amrPath)).toBe(false);
    expect(readdirSync(workDir)).toEqual([]);
  });
});

describe('buildAmr: global resource package', () => {
  const global = { resourceType: 0 as const };

  it('keeps the domain folder tree (only <h5Id>/ stripped), a port in the domain included', async () => {
    for (const domain of ['mcube-prod.mpaascloud.com', 'csmds.guilinbank.com.cn:4432']) {
      const { result, part } = await build(
        [
          { name: `12345678/${domain}/ALIPUB0000001_default/common.js`, data: 'var common;' },
          { name: `12345678/${domain}/ALIPUB0000001_default/img/logo.png`, data: randomBytes(100) },
          { name: '__MACOSX/._x', data: 'junk' },
        ],
        global,
      );
      const tree = [
        `${domain}/`,
        `${domain}/ALIPUB0000001_default/`,
        `${domain}/ALIPUB0000001_default/common.js`,
        `${domain}/ALIPUB0000001_default/img/`,
        `${domain}/ALIPUB0000001_default/img/logo.png`,
      ];
      const names = parseTar(part('12345678.tar')).entries.map((e) => e.name);
      expect(names).toEqual(domain < 'hpmfile.json' ? [...tree, 'hpmfile.json'] : ['hpmfile.json', ...tree]);
      expect(result.firstFile).toBe(`${domain}/ALIPUB0000001_default/common.js`);
      await result.cleanup();
    }
  });

  it('takes the private-cloud layout of the guide (§5.2): <domain>/mcube/<AppId_WorkspaceId>/...', async () => {
    const { result, part } = await build([{ name: '12345678/mdsweb.example.com/mcube/ALIPUB0000001_default/common.js', data: 'var common;' }], global);
    const names = parseTar(part('12345678.tar')).entries.map((e) => e.name);
    expect(names).toEqual(['hpmfile.json', 'mdsweb.example.com/', 'mdsweb.example.com/mcube/', 'mdsweb.example.com/mcube/ALIPUB0000001_default/', 'mdsweb.example.com/mcube/ALIPUB0000001_default/common.js']);
    expect(result.firstFile).toBe('mdsweb.example.com/mcube/ALIPUB0000001_default/common.js');
    await result.cleanup();
  });

  const refused: [string, FixtureEntry[], RegExp][] = [
    ['another app scope below mcube/', [{ name: '12345678/mdsweb.example.com/mcube/OTHERAPP_default/a.js', data: 'x' }], /third level must be "ALIPUB0000001_default"/],
    ['a file directly below mcube/', [{ name: '12345678/mdsweb.example.com/mcube/a.js', data: 'x' }], /must sit below 12345678\/mdsweb.example.com\/mcube\/ALIPUB0000001_default/],
    ['another app scope', [{ name: '12345678/mcube-prod.mpaascloud.com/OTHERAPP_default/a.js', data: 'x' }], /third level must be "ALIPUB0000001_default"/],
    ['another workspace', [{ name: '12345678/mcube-prod.mpaascloud.com/ALIPUB0000001_test/a.js', data: 'x' }], /third level/],
    ['a file directly below the domain', [{ name: '12345678/mcube-prod.mpaascloud.com/a.js', data: 'x' }], /must sit below/],
    ['a file directly below the top folder', [{ name: '12345678/index.html', data: 'x' }], /must sit below/],
    ['a normal-package layout', [{ name: '12345678/www/index.html', data: 'x' }], /must sit below/],
    ['a normal-package layout, deeper', [{ name: '12345678/www/js/app.js', data: 'x' }], /third level/],
    ['a domain with bad characters', [{ name: '12345678/bad_domain!/ALIPUB0000001_default/a.js', data: 'x' }], /second level must be a domain/],
    ['a bad port', [{ name: '12345678/a.example.com:99999/ALIPUB0000001_default/a.js', data: 'x' }], /second level must be a domain/],
    [
      'two domains',
      [
        { name: '12345678/a.example.com/ALIPUB0000001_default/a.js', data: 'x' },
        { name: '12345678/b.example.com/ALIPUB0000001_default/a.js', data: 'x' },
      ],
      /one domain folder/,
    ],
  ];
  for (const [what, entries, message] of refused) {
    it(`refuses ${what} (BadLayout) and leaves nothing in workDir`, async () => {
      const err = await build(entries, global).then(
        () => null,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(err?.code).toBe('BadLayout');
      expect(err?.message).toMatch(message);
      expect(readdirSync(join(root, `work-${n}`))).toEqual([]);
    });
  }

  it('refuses a global package with folders only (EmptyPackage)', async () => {
    await expect(build([{ name: '12345678/mcube-prod.mpaascloud.com/ALIPUB0000001_default/' }], global)).rejects.toMatchObject({
      code: 'EmptyPackage',
    });
  });
});
