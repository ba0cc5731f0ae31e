import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

function crc32Js(data: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// node:zlib has crc32 from Node 20.15 / 22.2; older 20.x fall back to the table
const nativeCrc = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
export const crc32 = (data: Uint8Array): number => (nativeCrc ? nativeCrc(data) : crc32Js(data));

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.min(Math.max(d.getFullYear(), 1980), 2107);
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

interface CentralEntry {
  name: Buffer;
  crc: number;
  method: number;
  compressed: number;
  size: number;
  offset: number;
  time: number;
  date: number;
}

export interface ZipSink {
  write(chunk: Buffer): Promise<void>;
}

/**
 * A minimal ZIP writer (stored or deflated entries, UTF-8 names, no ZIP64):
 * enough for offline-package uploads and for the .amr container. Each entry
 * is compressed in memory; the archive itself is written to the sink as it grows.
 */
export class ZipWriter {
  private readonly entries: CentralEntry[] = [];
  private offset = 0;

  constructor(private readonly sink: ZipSink) {}

  private async emit(buf: Buffer): Promise<void> {
    this.offset += buf.length;
    if (this.offset > 0xffffffff) throw new RangeError('archive larger than 4 GiB (ZIP64 is not supported)');
    await this.sink.write(buf);
  }

  async addFile(name: string, data: Uint8Array, mtime = new Date()): Promise<void> {
    if (this.entries.length >= 0xffff) throw new RangeError('more than 65535 entries (ZIP64 is not supported)');
    if (data.length > 0xffffffff) throw new RangeError(`${name}: larger than 4 GiB (ZIP64 is not supported)`);
    const nameBuf = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const deflated = data.length ? zlib.deflateRawSync(data, { level: 9 }) : Buffer.alloc(0);
    const stored = deflated.length >= data.length;
    const body = stored ? Buffer.from(data.buffer, data.byteOffset, data.length) : deflated;
    const { time, date } = dosDateTime(mtime);
    const e: CentralEntry = { name: nameBuf, crc, method: stored ? 0 : 8, compressed: body.length, size: data.length, offset: this.offset, time, date };
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4); // version needed
    h.writeUInt16LE(0x0800, 6); // UTF-8 names
    h.writeUInt16LE(e.method, 8);
    h.writeUInt16LE(time, 10);
    h.writeUInt16LE(date, 12);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(e.compressed, 18);
    h.writeUInt32LE(e.size, 22);
    h.writeUInt16LE(nameBuf.length, 26);
    h.writeUInt16LE(0, 28);
    await this.emit(h);
    await this.emit(nameBuf);
    await this.emit(body);
    this.entries.push(e);
  }

  /** Writes the central directory; the sink then holds a complete archive. */
  async finish(): Promise<void> {
    const start = this.offset;
    for (const e of this.entries) {
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(0x031e, 4); // made by: Unix, spec 3.0
      c.writeUInt16LE(20, 6);
      c.writeUInt16LE(0x0800, 8);
      c.writeUInt16LE(e.method, 10);
      c.writeUInt16LE(e.time, 12);
      c.writeUInt16LE(e.date, 14);
      c.writeUInt32LE(e.crc, 16);
      c.writeUInt32LE(e.compressed, 20);
      c.writeUInt32LE(e.size, 24);
      c.writeUInt16LE(e.name.length, 28);
      c.writeUInt32LE(((0o100644 << 16) >>> 0), 38); // external attributes: regular file, rw-r--r--
      c.writeUInt32LE(e.offset, 42);
      await this.emit(c);
      await this.emit(e.name);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.entries.length, 8);
    end.writeUInt16LE(this.entries.length, 10);
    end.writeUInt32LE(this.offset - start, 12);
    end.writeUInt32LE(start, 16);
    await this.emit(end);
  }
}
