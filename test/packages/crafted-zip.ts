// A tiny, deliberately permissive zip writer for the audit: every header field can be overridden.
import { crc32, deflateRawSync } from 'node:zlib';

export interface E {
  name: string | Buffer;
  /** central directory name, when it should differ from the local one */
  cname?: string | Buffer;
  data?: Buffer | string;
  /** 0 stored, 8 deflate, anything else written as-is with `raw` bytes */
  method?: number;
  cmethod?: number;
  /** raw bytes written as the entry data (defaults to stored/deflated data) */
  raw?: Buffer;
  crc?: number;
  usize?: number;
  csize?: number;
  /** central overrides */
  cusize?: number;
  ccsize?: number;
  ccrc?: number;
  flags?: number;
  cflags?: number;
  /** external attributes (upper 16 bits unix mode) */
  mode?: number;
  madeBy?: number;
  lextra?: Buffer;
  cextra?: Buffer;
  /** write a data descriptor after the data (sets flag bit 3, zeroes local sizes/crc) */
  descriptor?: boolean;
  /** point this central record's local header offset at another entry's (index) */
  offsetOf?: number;
  /** leave out of the central directory */
  hidden?: boolean;
}

export interface Opts {
  prefix?: Buffer;
  comment?: Buffer;
  /** extra bytes after the EOCD */
  suffix?: Buffer;
  /** declared number of entries override */
  count?: number;
}

export function zip(entries: E[], o: Opts = {}): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  const push = (b: Buffer) => {
    parts.push(b);
    off += b.length;
  };
  if (o.prefix) push(o.prefix);
  const offsets: number[] = [];
  const metas: Array<{ crc: number; csize: number; usize: number; method: number }> = [];
  for (const e of entries) {
    const nameB = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
    const method = e.method ?? 8;
    const raw = e.raw ?? (method === 8 ? deflateRawSync(data) : data);
    const crc = e.crc ?? crc32(data);
    const usize = e.usize ?? data.length;
    const csize = e.csize ?? raw.length;
    metas.push({ crc, csize, usize, method });
    offsets.push(off);
    const lextra = e.lextra ?? Buffer.alloc(0);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE((e.flags ?? 0x800) | (e.descriptor ? 8 : 0), 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(0, 10);
    h.writeUInt16LE(0x5821, 12);
    h.writeUInt32LE(e.descriptor ? 0 : crc >>> 0, 14);
    h.writeUInt32LE(e.descriptor ? 0 : csize >>> 0, 18);
    h.writeUInt32LE(e.descriptor ? 0 : usize >>> 0, 22);
    h.writeUInt16LE(nameB.length, 26);
    h.writeUInt16LE(lextra.length, 28);
    push(Buffer.concat([h, nameB, lextra, raw]));
    if (e.descriptor) {
      const d = Buffer.alloc(16);
      d.writeUInt32LE(0x08074b50, 0);
      d.writeUInt32LE(crc >>> 0, 4);
      d.writeUInt32LE(csize >>> 0, 8);
      d.writeUInt32LE(usize >>> 0, 12);
      push(d);
    }
  }
  const cdStart = off;
  let n = 0;
  entries.forEach((e, i) => {
    if (e.hidden) return;
    n++;
    const m = metas[i]!;
    const cname = e.cname ?? e.name;
    const nameB = Buffer.isBuffer(cname) ? cname : Buffer.from(cname, 'utf8');
    const cextra = e.cextra ?? Buffer.alloc(0);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(e.madeBy ?? 0x031e, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE((e.cflags ?? e.flags ?? 0x800) | (e.descriptor ? 8 : 0), 8);
    c.writeUInt16LE(e.cmethod ?? m.method, 10);
    c.writeUInt16LE(0, 12);
    c.writeUInt16LE(0x5821, 14);
    c.writeUInt32LE((e.ccrc ?? m.crc) >>> 0, 16);
    c.writeUInt32LE((e.ccsize ?? m.csize) >>> 0, 20);
    c.writeUInt32LE((e.cusize ?? m.usize) >>> 0, 24);
    c.writeUInt16LE(nameB.length, 28);
    c.writeUInt16LE(cextra.length, 30);
    c.writeUInt16LE(0, 32);
    c.writeUInt16LE(0, 34);
    c.writeUInt16LE(0, 36);
    const isDir = nameB[nameB.length - 1] === 0x2f;
    const mode = e.mode ?? (isDir ? 0o40755 : 0o100644);
    c.writeUInt32LE((((mode & 0xffff) * 65536) + (isDir ? 0x10 : 0)) >>> 0, 38);
    c.writeUInt32LE(offsets[e.offsetOf ?? i]!, 42);
    push(Buffer.concat([c, nameB, cextra]));
  });
  const cdSize = off - cdStart;
  const comment = o.comment ?? Buffer.alloc(0);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(o.count ?? n, 8);
  eocd.writeUInt16LE(o.count ?? n, 10);
  eocd.writeUInt32LE(cdSize, 12);
  eocd.writeUInt32LE(cdStart, 16);
  eocd.writeUInt16LE(comment.length, 20);
  push(Buffer.concat([eocd, comment]));
  if (o.suffix) push(o.suffix);
  return Buffer.concat(parts);
}

/** zip64 extra field (0x0001) with the given 64-bit values. */
export function zip64Extra(...vals: bigint[]): Buffer {
  const b = Buffer.alloc(4 + 8 * vals.length);
  b.writeUInt16LE(1, 0);
  b.writeUInt16LE(8 * vals.length, 2);
  vals.forEach((v, i) => b.writeBigUInt64LE(v, 4 + 8 * i));
  return b;
}

/** Info-ZIP unicode path extra field (0x7075). */
export function unicodePathExtra(name: Buffer, unicode: string): Buffer {
  const u = Buffer.from(unicode, 'utf8');
  const b = Buffer.alloc(4 + 5 + u.length);
  b.writeUInt16LE(0x7075, 0);
  b.writeUInt16LE(5 + u.length, 2);
  b.writeUInt8(1, 4);
  b.writeUInt32LE(crc32(name) >>> 0, 5);
  u.copy(b, 9);
  return b;
}
