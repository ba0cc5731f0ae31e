// Hostile archives through GetMcubeFileToken -> upload -> CreateMcubeNebulaResource (and
// CreateMcubeUpgradePackage), end to end. Zips are crafted byte by byte (./crafted-zip.ts,
// ./overlap-bomb.ts): every refusal must leave nothing behind, and every accepted package
// must extract with GNU tar to exactly what the zip meant.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../helpers/nebula.js';
import { attempt, H5, pkgKeys, start, walk, type Attempt, type Ctx } from './publish-attempt.js';
import { fifield } from './overlap-bomb.js';
import { zip, zip64Extra, unicodePathExtra, type E } from './crafted-zip.js';

let ctx: Ctx;
beforeAll(async () => {
  ctx = await start();
});
afterAll(async () => ctx?.srv.close());

const P = (s: string) => `${H5}/${s}`;
const idx: E = { name: P('www/index.html'), data: '<p>ok</p>' };

/** refused with one of `codes`, message matching, and nothing left behind */
function expectRefused(a: Attempt, codes: string[], msg?: RegExp) {
  expect(codes, JSON.stringify(a.body)).toContain(a.code);
  if (msg) expect(a.message).toMatch(msg);
  expect(a.resourcesDelta).toBe(0);
  expect(a.newFiles).toEqual([]);
}
function localRecord(name: string, data: Buffer): Buffer {
  const n = Buffer.from(name);
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4);
  h.writeUInt16LE(0x800, 6);
  h.writeUInt32LE(crc32(data) >>> 0, 14);
  h.writeUInt32LE(data.length, 18);
  h.writeUInt32LE(data.length, 22);
  h.writeUInt16LE(n.length, 26);
  return Buffer.concat([h, n, data]);
}
function centralRecord(name: string, data: Buffer, off: number): Buffer {
  const n = Buffer.from(name);
  const c = Buffer.alloc(46);
  c.writeUInt32LE(0x02014b50, 0);
  c.writeUInt16LE(0x031e, 4);
  c.writeUInt16LE(20, 6);
  c.writeUInt16LE(0x800, 8);
  c.writeUInt32LE(crc32(data) >>> 0, 16);
  c.writeUInt32LE(data.length, 20);
  c.writeUInt32LE(data.length, 24);
  c.writeUInt16LE(n.length, 28);
  c.writeUInt32LE((0o100644 * 65536) >>> 0, 38);
  c.writeUInt32LE(off, 42);
  return Buffer.concat([c, n]);
}

describe('archives that tools read differently, and names clients cannot hold', () => {
  it('refuses an end record that declares fewer entries than the directory holds (files were silently dropped)', async () => {
    // Info-ZIP lists both files (and complains); the package used to hold only www/index.html
    const z = zip([idx, { name: P('www/app.js'), data: 'needed' }], { count: 1 });
    const a = await attempt(ctx, z);
    expect(a.ok ? Object.keys(a.tree!) : a.code).not.toEqual(['www/', 'www/index.html']);
    expectRefused(a, ['TruncatedZip']);
  });

  it('refuses a local header whose name disagrees with the directory record', async () => {
    expectRefused(await attempt(ctx, zip([idx, { name: P('../../evil.js'), cname: P('www/a.js'), data: 'EVIL' }])), ['TruncatedZip', 'ZipSlip', 'BadLayout']);
  });
  it('refuses a local header whose compression method disagrees (the raw deflate bytes were shipped as the file)', async () => {
    const d = Buffer.from('hello hello hello hello');
    const raw = deflateRawSync(d);
    const a = await attempt(ctx, zip([idx, { name: P('www/a.js'), data: d, raw, method: 8, cmethod: 0, ccrc: crc32(raw), cusize: raw.length }]));
    expectRefused(a, ['TruncatedZip', 'UnsupportedEntry']);
  });
  it('refuses a local header flagged encrypted when the directory record is not', async () => {
    expectRefused(await attempt(ctx, zip([idx, { name: P('www/a.js'), data: 'hello', method: 0, flags: 0x801, cflags: 0x800 }])), ['EncryptedEntry', 'TruncatedZip']);
  });

  it('refuses partially overlapping entries (entry A quotes entry B\'s local header and data)', async () => {
    const bData = Buffer.from('B'.repeat(200));
    const bRec = localRecord(P('www/b.js'), bData);
    const idxRec = localRecord(P('www/index.html'), Buffer.from('<p>ok</p>'));
    const aRec = localRecord(P('www/a.js'), bRec);
    const body = Buffer.concat([idxRec, aRec]);
    const cd = Buffer.concat([
      centralRecord(P('www/index.html'), Buffer.from('<p>ok</p>'), 0),
      centralRecord(P('www/a.js'), bRec, idxRec.length),
      centralRecord(P('www/b.js'), bData, idxRec.length + 30 + Buffer.byteLength(P('www/a.js'))),
    ]);
    const e = Buffer.alloc(22);
    e.writeUInt32LE(0x06054b50, 0);
    e.writeUInt16LE(3, 8);
    e.writeUInt16LE(3, 10);
    e.writeUInt32LE(cd.length, 12);
    e.writeUInt32LE(body.length, 16);
    // Info-ZIP refuses this as "overlapped components (possible zip bomb)"
    expectRefused(await attempt(ctx, Buffer.concat([body, cd, e])), ['ZipBomb']);
  });

  it('refuses a folder named hpmfile.json (the tar held hpmfile.json as folder and file; GNU tar cannot extract that)', async () => {
    let a: Attempt | undefined;
    let err: unknown;
    try {
      a = await attempt(ctx, zip([idx, { name: P('hpmfile.json/x.js'), data: 'x' }]));
    } catch (e) {
      err = e; // the harness extracts the produced tar with GNU tar: "hpmfile.json/x.js: Cannot open: Not a directory"
    }
    expect(String((err as Error | undefined)?.message ?? '')).not.toMatch(/Not a directory|Is a directory/);
    expect(a && !a.ok ? a.code : 'accepted-or-broken').toMatch(/DuplicateEntry|BadLayout/);
  });

  it('refuses two Unicode spellings of one name (NFC and NFD: one file on APFS)', async () => {
    const a = await attempt(ctx, zip([idx, { name: P('www/caf\u00e9.js'), data: 'NFC' }, { name: P('www/cafe\u0301.js'), data: 'NFD' }]));
    if (a.ok) {
      const names = a.tarList!.map((n) => n.normalize('NFC'));
      expect(new Set(names).size).toBeLessThan(names.length); // proven collision in the shipped tar
    }
    expectRefused(a, ['DuplicateEntry']);
  });
  it('keeps a file and a folder whose names differ only by case: device file systems (Android, iOS) are case-sensitive', async () => {
    const a = await attempt(ctx, zip([idx, { name: P('www/Img'), data: 'file' }, { name: P('www/img/x.png'), data: 'png' }]));
    expect(a.code, JSON.stringify(a.body)).toBe('OK');
    expect(a.tree).toMatchObject({ 'www/Img': 'file', 'www/img/x.png': 'png' });
  });

  it('builds global_pack_url from an archive file name as a valid, percent-encoded URL', async () => {
    await ctx.call('CreateMcubeNebulaApp', { H5Id: '87654321', H5Name: 'global' });
    const scope = `${ctx.srv.creds.appId}_${ctx.srv.creds.workspaceId}`;
    const g = (s: string) => `87654321/h5app.com/${scope}/${s}`;
    const a = await attempt(ctx, zip([{ name: g(' #?x=1&y=<b>.png'), data: 'x' }, { name: g('z.png'), data: 'x' }]), { ResourceType: 0, MainUrl: '', RepeatNebula: 0 }, '87654321');
    expect(a.code).toBe('OK');
    const h5 = JSON.parse(await (await fetch(a.info.Memo)).text());
    const url: string = h5.data[0].global_pack_url;
    expect(url).not.toMatch(/[ #<>]/);
    expect(new URL(url).pathname.endsWith('.png')).toBe(true);
  });

  it('refuses C1 controls and bidi overrides in names like C0 controls', async () => {
    expectRefused(await attempt(ctx, zip([idx, { name: P('www/a\u0085.js'), data: 'x' }])), ['BadLayout']);
    expectRefused(await attempt(ctx, zip([idx, { name: P('www/a\u202Egnp.js'), data: 'x' }])), ['BadLayout']);
  });

  it('refuses an upgrade .apk that is not a whole, readable zip (only its first bytes were checked)', async () => {
    const bad: Array<[string, Buffer]> = [
      ['garbage', Buffer.from('PK\x03\x04 this is not a zip at all')],
      ['truncated', zip([{ name: 'AndroidManifest.xml', data: randomBytes(5000) }]).subarray(0, 3000)],
    ];
    let v = 0;
    for (const [name, data] of bad) {
      const fileUrl = await uploadFile(ctx.call, `shop-${name}.apk`, data);
      const r = await ctx.call('CreateMcubeUpgradePackage', { OnexFlag: true, Platform: 'Android', AppVersion: `9.0.${++v}`, FileUrl: fileUrl });
      expect(r.ResultCode, `${name}: ${JSON.stringify(r)}`).not.toBe('OK');
    }
  });
});

describe('refused or accepted faithfully', () => {
  const refusals: Array<[string, () => Buffer, string[], RegExp?]> = [
    ['local csize smaller than central', () => zip([idx, { name: P('www/a.js'), data: 'hello world hello', method: 0, csize: 5, usize: 5 }]), ['TruncatedZip']],
    ['local stored, central deflate', () => zip([idx, { name: P('www/a.js'), data: 'hello', method: 0, cmethod: 8 }]), ['TruncatedZip']],
    ['declared size larger than the data', () => zip([idx, { name: P('www/a.js'), data: 'hello', usize: 1000 }]), ['TruncatedZip']],
    ['declared size smaller than the data', () => zip([idx, { name: P('www/a.js'), data: 'hello'.repeat(100), usize: 10 }]), ['ZipBomb'], /inflates beyond/],
    ['CRC mismatch (stored)', () => zip([idx, { name: P('www/a.js'), data: 'hello', method: 0, crc: 1234 }]), ['TruncatedZip'], /CRC/],
    ['CRC mismatch (deflate)', () => zip([idx, { name: P('www/a.js'), data: 'hello', crc: 1234 }]), ['TruncatedZip'], /CRC/],
    ['deflate stream without a final block', () => {
      const raw = Buffer.from(deflateRawSync('hello', { level: 0 }));
      raw[0] = raw[0]! & ~1;
      return zip([idx, { name: P('www/a.js'), data: 'hello', raw }]);
    }, ['TruncatedZip']],
    ['bzip2', () => zip([idx, { name: P('www/a.js'), data: 'x', method: 12, raw: Buffer.from('BZh91AY&SY') }]), ['UnsupportedEntry'], /method 12/],
    ['lzma', () => zip([idx, { name: P('www/a.js'), data: 'x', method: 14, raw: Buffer.alloc(8) }]), ['UnsupportedEntry'], /method 14/],
    ['deflate64', () => zip([idx, { name: P('www/a.js'), data: 'x', method: 9, raw: deflateRawSync('x') }]), ['UnsupportedEntry'], /method 9/],
    ['zip64 fake 2^62 size', () => {
      const d = Buffer.from('hi');
      return zip([idx, { name: P('www/a.js'), data: d, usize: 0xffffffff, cusize: 0xffffffff, lextra: zip64Extra(2n ** 62n), cextra: zip64Extra(2n ** 62n) }]);
    }, ['TooLarge']],
    ['stored entry declaring 3.9 GB', () => zip([idx, { name: P('www/a.js'), data: 'x', method: 0, usize: 0xf0000000, csize: 0xf0000000 }]), ['TooLarge']],
    ['trailing junk after EOCD', () => zip([idx], { suffix: Buffer.from('JUNKJUNK') }), ['TruncatedZip']],
    ['two archives concatenated', () => Buffer.concat([zip([idx]), zip([idx, { name: P('www/b.js'), data: 'b' }])]), ['TruncatedZip']],
    ['..\\..\\x', () => zip([idx, { name: P('..\\..\\x.js'), data: 'x' }]), ['ZipSlip']],
    ['a\\b', () => zip([idx, { name: P('www/a\\b.js'), data: 'x' }]), ['AbsolutePath']],
    ['./ segment', () => zip([idx, { name: P('./www/a.js'), data: 'x' }]), ['BadLayout']],
    ['// segment', () => zip([idx, { name: P('www//a.js'), data: 'x' }]), ['BadLayout']],
    ['trailing / on a file with data', () => zip([idx, { name: P('www/dir/'), data: 'DATA', mode: 0o100644 }]), ['BadLayout']],
    ['NUL in name', () => zip([idx, { name: Buffer.from(P('www/a\0.js')), data: 'x' }]), ['BadLayout']],
    ['newline in name', () => zip([idx, { name: P('www/a\n.js'), data: 'x' }]), ['BadLayout']],
    ['120-byte file name (no tar header fits)', () => zip([idx, { name: P('www/' + 'b'.repeat(117) + '.js'), data: 'x' }]), ['BadLayout'], /too long/],
    ['300-byte path', () => zip([idx, { name: P('www/' + Array.from({ length: 50 }, (_, i) => `d${String(i).padStart(3, '0')}`).join('/') + '/f.js'), data: 'x' }]), ['BadLayout'], /too long/],
    ['Info-ZIP unicode path field saying ../../evil', () => {
      const n = Buffer.from(P('www/ok.js'));
      return zip([idx, { name: n, data: 'x', flags: 0, cflags: 0, cextra: unicodePathExtra(n, P('../../evil.js')) }]);
    }, ['ZipSlip']],
    ['folder and file of one name', () => zip([idx, { name: P('www/x/') }, { name: P('www/x'), data: 'f' }]), ['DuplicateEntry']],
    ['a file named as the top-level folder', () => zip([{ name: H5, data: 'whatever' }, idx]), ['DuplicateEntry'], /both as a file and as the top-level folder/],
    ['Fifield overlapping deflate bomb (10 KB -> 25 MB)', () => {
      const k = Buffer.alloc(1_200_000);
      for (let i = 0; i < k.length; i += 1000) randomBytes(3).copy(k, i);
      return fifield([P('www/index.html'), ...Array.from({ length: 20 }, (_, i) => P(`www/f${i}.bin`))], k);
    }, ['ZipBomb']],
  ];
  for (const [name, build, codes, msg] of refusals) {
    it(`refuses: ${name} (${codes.join('/')}), leaves nothing`, async () => expectRefused(await attempt(ctx, build()), codes, msg));
  }

  const accepted: Array<[string, () => Buffer, Record<string, string>]> = [
    ['data descriptor (deflate)', () => zip([idx, { name: P('www/a.js'), data: 'hello descriptor', descriptor: true }]), { 'www/a.js': 'hello descriptor' }],
    ['data descriptor (stored)', () => zip([idx, { name: P('www/a.js'), data: 'hello descriptor', method: 0, descriptor: true }]), { 'www/a.js': 'hello descriptor' }],
    ['zip64 extra with real sizes', () => {
      const d = Buffer.from('hello zip64');
      const raw = deflateRawSync(d);
      const x = zip64Extra(BigInt(d.length), BigInt(raw.length));
      return zip([idx, { name: P('www/a.js'), data: d, raw, usize: 0xffffffff, csize: 0xffffffff, cusize: 0xffffffff, ccsize: 0xffffffff, lextra: x, cextra: x }]);
    }, { 'www/a.js': 'hello zip64' }],
    ['prepended SFX stub', () => zip([idx, { name: P('www/a.js'), data: 'sfx' }], { prefix: Buffer.alloc(1000, 0x41) }), { 'www/a.js': 'sfx' }],
    ['archive comment', () => zip([idx, { name: P('www/a.js'), data: 'c' }], { comment: Buffer.from('a comment') }), { 'www/a.js': 'c' }],
    ['setuid/exec modes normalised', () => zip([idx, { name: P('www/a.js'), data: 'x', mode: 0o104777 }]), { 'www/a.js': 'x' }],
    ['250-byte path (ustar prefix) extracts with GNU tar', () => zip([idx, { name: P('www/' + Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(3, '0')}`).join('/') + '/f.js'), data: 'deep' }]), { ['www/' + Array.from({ length: 40 }, (_, i) => `d${String(i).padStart(3, '0')}`).join('/') + '/f.js']: 'deep' }],
  ];
  for (const [name, build, files] of accepted) {
    it(`accepts faithfully: ${name}`, async () => {
      const a = await attempt(ctx, build());
      expect(a.code, JSON.stringify(a.body)).toBe('OK');
      for (const [p, c] of Object.entries(files)) expect(a.tree![p]).toBe(c);
      expect(a.tree!['www/index.html']).toBe('<p>ok</p>');
      const modes = execFileSync('tar', ['-tvf', a.tarPath!], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
      expect(new Set(modes)).toEqual(new Set(['-rw-r--r--', 'drwxr-xr-x']));
    });
  }

  it('no work files or orphan objects remain; no error-level logs', async () => {
    const work = ctx.srv.node.deps.config.packages.workDir;
    expect(walk(work)).toEqual([]);
    const rows = await ctx.srv.node.deps.db.knex('nebula_resources').count({ n: '*' });
    // every stored package object belongs to a row (2 objects per package: .amr + .json)
    expect((await pkgKeys(ctx)).filter((k) => k.includes('/nebula/')).length).toBe(2 * Number((rows[0] as any).n));
    expect(ctx.srv.logs.filter((l) => /"level":"(error|fatal)"/.test(l))).toEqual([]);
  });
});
