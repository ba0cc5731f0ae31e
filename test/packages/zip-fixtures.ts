import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';

// yazl is a dependency of the server package only; load it from there.
const require = createRequire(new URL('../../packages/server/package.json', import.meta.url));

interface YazlZipFile {
  addBuffer(data: Buffer, name: string, options?: { mtime?: Date; mode?: number; compress?: boolean }): void;
  addEmptyDirectory(name: string, options?: { mtime?: Date; mode?: number }): void;
  end(): void;
  outputStream: NodeJS.ReadableStream;
}
const yazl = require('yazl') as { ZipFile: new () => YazlZipFile };

export const MTIME = new Date('2024-05-06T07:08:10Z');

export interface FixtureEntry {
  name: string;
  /** Omitted: a folder entry. */
  data?: Buffer | string;
  mode?: number;
  compress?: boolean;
}

/** Writes a zip made by yazl (names as given, in the given order). */
export async function writeZip(path: string, entries: FixtureEntry[]): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.data === undefined) zip.addEmptyDirectory(e.name, { mtime: MTIME, ...(e.mode ? { mode: e.mode } : {}) });
    else {
      const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
      zip.addBuffer(data, e.name, { mtime: MTIME, compress: e.compress ?? true, ...(e.mode ? { mode: e.mode } : {}) });
    }
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(path));
}

/** Same as writeZip, then replaces byte strings of equal length everywhere (names in both headers). */
export async function writePatchedZip(path: string, entries: FixtureEntry[], patch: (zip: Buffer) => void): Promise<void> {
  await writeZip(path, entries);
  const buf = await readFile(path);
  patch(buf);
  await writeFile(path, buf);
}

export function replaceAll(buf: Buffer, from: string, to: string): void {
  const a = Buffer.from(from);
  const b = Buffer.from(to);
  if (a.length !== b.length) throw new Error('replacement must keep the length');
  let i = buf.indexOf(a);
  if (i < 0) throw new Error(`"${from}" not found`);
  for (; i >= 0; i = buf.indexOf(a, i + 1)) b.copy(buf, i);
}

/** Calls fn with the offset of every central-directory record. */
export function eachCentralRecord(buf: Buffer, fn: (offset: number) => void): void {
  for (let i = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); i >= 0; i = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), i + 1)) fn(i);
}

export function eachLocalHeader(buf: Buffer, fn: (offset: number) => void): void {
  for (let i = buf.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04])); i >= 0; i = buf.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]), i + 1)) fn(i);
}

export interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  size: number;
  magic: string;
  data: Buffer;
  longLink: boolean;
  /** the ustar prefix field (bytes 345..500), joined before the name as Nebula's Android reader does */
  prefix: string;
}

/** A small independent GNU tar reader for assertions (checks header checksums too). */
export function parseTar(tar: Buffer): { entries: TarEntry[]; endOffset: number } {
  const entries: TarEntry[] = [];
  let off = 0;
  let longName: string | null = null;
  const str = (h: Buffer, o: number, l: number) => {
    const s = h.subarray(o, o + l);
    const z = s.indexOf(0);
    return s.subarray(0, z < 0 ? l : z).toString('utf8');
  };
  const oct = (h: Buffer, o: number, l: number) => parseInt(str(h, o, l).trim() || '0', 8);
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== oct(h, 148, 8)) throw new Error(`bad checksum at ${off}`);
    const size = oct(h, 124, 12);
    const type = String.fromCharCode(h[156]!);
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = data.subarray(0, data.indexOf(0)).toString('utf8');
      continue;
    }
    const prefix = str(h, 345, 155);
    entries.push({
      name: longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100)),
      prefix,
      type,
      mode: oct(h, 100, 8),
      uid: oct(h, 108, 8),
      gid: oct(h, 116, 8),
      uname: str(h, 265, 32),
      gname: str(h, 297, 32),
      size,
      magic: h.subarray(257, 265).toString('latin1'),
      data: Buffer.from(data),
      longLink: longName !== null,
    });
    longName = null;
  }
  return { entries, endOffset: off };
}

/** Entries of a zip (names and inflated data, in central-directory order), read with yauzl. */
export async function readZip(path: string): Promise<{ name: string; data: Buffer; compressionMethod: number }[]> {
  const yauzl = (await import('yauzl')).default;
  const zip = await new Promise<import('yauzl').ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const out: { name: string; data: Buffer; compressionMethod: number }[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (e: import('yauzl').Entry) => {
      zip.openReadStream(e, async (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        out.push({ name: e.fileName, data: Buffer.concat(chunks), compressionMethod: e.compressionMethod });
        zip.readEntry();
      });
    });
    zip.readEntry();
  });
  return out;
}

/**
 * A zip of `count` empty stored files written directly (yazl's writer is quadratic in
 * the entry count); more than 65535 entries get a ZIP64 end record, as real tools do.
 */
export async function writeManyEmptyFilesZip(path: string, count: number, name: (i: number) => string): Promise<void> {
  const out = createWriteStream(path);
  const central: Buffer[] = [];
  let offset = 0;
  const write = async (b: Buffer) => {
    offset += b.length;
    if (!out.write(b)) await once(out, 'drain');
  };
  for (let i = 0; i < count; i++) {
    const n = Buffer.from(name(i));
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(10, 4);
    local.writeUInt16LE(n.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(0x031e, 4);
    cd.writeUInt16LE(10, 6);
    cd.writeUInt16LE(n.length, 28);
    cd.writeUInt32LE((0o100644 << 16) >>> 0, 38);
    cd.writeUInt32LE(offset, 42);
    central.push(cd, n);
    await write(Buffer.concat([local, n]));
  }
  const cdStart = offset;
  for (let i = 0; i < central.length; i += 2000) await write(Buffer.concat(central.slice(i, i + 2000)));
  const cdSize = offset - cdStart;
  const z64 = Buffer.alloc(56);
  z64.writeUInt32LE(0x06064b50, 0);
  z64.writeBigUInt64LE(44n, 4);
  z64.writeUInt16LE(45, 12);
  z64.writeUInt16LE(45, 14);
  z64.writeBigUInt64LE(BigInt(count), 24);
  z64.writeBigUInt64LE(BigInt(count), 32);
  z64.writeBigUInt64LE(BigInt(cdSize), 40);
  z64.writeBigUInt64LE(BigInt(cdStart), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset), 8);
  locator.writeUInt32LE(1, 16);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Math.min(count, 0xffff), 8);
  eocd.writeUInt16LE(Math.min(count, 0xffff), 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdStart, 16);
  await write(Buffer.concat(count > 0xffff ? [z64, locator, eocd] : [eocd]));
  out.end();
  await once(out, 'close');
}
