import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

const BLOCK = 512;
const RECORD = 10240;
const NAME_LEN = 100;
const OWNER = { uid: 500, gid: 500, uname: 'admin', gname: 'admin' };
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
const ZEROS = Buffer.alloc(RECORD);

/**
 * A GNU tar writer (magic "ustar  \0", the format of console-built packages):
 * owner admin/admin 500/500, files 0644, folders 0755, names over 100 bytes carried
 * by a preceding `././@LongLink` entry, sizes of 8 GiB and more in base-256, and the
 * archive padded to a 10240-byte record. Every byte goes through `out` in order.
 */
export class TarWriter {
  private pos = 0;

  constructor(private readonly out: (chunk: Buffer) => void | Promise<void>) {}

  async directory(path: string, mtime: Date): Promise<void> {
    await this.header(`${path}/`, DIR_MODE, 0, mtime, '5');
  }

  /** Writes a file whose data (exactly `size` bytes) comes from `data`. */
  async file(path: string, size: number, mtime: Date, data: Buffer | AsyncIterable<Buffer>): Promise<void> {
    await this.header(path, FILE_MODE, size, mtime, '0');
    let n = 0;
    for await (const chunk of Buffer.isBuffer(data) ? [data] : data) {
      n += chunk.length;
      if (n > size) throw new Error(`tar: more data than the ${size} bytes announced for ${path}`);
      await this.write(chunk);
    }
    if (n !== size) throw new Error(`tar: ${n} bytes written for ${path}, ${size} announced`);
    await this.pad();
  }

  /** Ends the archive (two zero blocks, record padding) and returns its size. */
  async end(): Promise<number> {
    await this.write(ZEROS.subarray(0, 2 * BLOCK));
    const rest = (RECORD - (this.pos % RECORD)) % RECORD;
    if (rest) await this.write(ZEROS.subarray(0, rest));
    return this.pos;
  }

  private async header(name: string, mode: number, size: number, mtime: Date, type: '0' | '5'): Promise<void> {
    const nameBytes = Buffer.from(name, 'utf8');
    const seconds = Math.max(0, Math.floor(mtime.getTime() / 1000));
    if (nameBytes.length > NAME_LEN) {
      const long = Buffer.concat([nameBytes, Buffer.alloc(1)]);
      await this.write(tarHeader(Buffer.from('././@LongLink'), 0o644, 0, 0, long.length, 0, 'L', 'root', 'root'));
      await this.write(long);
      await this.pad();
    }
    await this.write(
      tarHeader(nameBytes.subarray(0, NAME_LEN), mode, OWNER.uid, OWNER.gid, size, seconds, type, OWNER.uname, OWNER.gname),
    );
  }

  private async pad(): Promise<void> {
    const rest = (BLOCK - (this.pos % BLOCK)) % BLOCK;
    if (rest) await this.write(ZEROS.subarray(0, rest));
  }

  private async write(chunk: Buffer): Promise<void> {
    this.pos += chunk.length;
    await this.out(chunk);
  }
}

export function tarHeader(
  name: Buffer,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  mtime: number,
  type: string,
  uname: string,
  gname: string,
): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  numeric(h, 100, 8, mode);
  numeric(h, 108, 8, uid);
  numeric(h, 116, 8, gid);
  numeric(h, 124, 12, size);
  numeric(h, 136, 12, Math.min(mtime, 8 ** 11 - 1));
  h.fill(0x20, 148, 156);
  h.write(type, 156, 'latin1');
  h.write('ustar  \0', 257, 'latin1');
  h.write(uname, 265, 'latin1');
  h.write(gname, 297, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

/** Octal, zero-padded, NUL-terminated; values too large for it in GNU base-256. */
function numeric(h: Buffer, off: number, len: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length < len) {
    h.write(`${digits.padStart(len - 1, '0')}\0`, off, 'latin1');
    return;
  }
  let v = BigInt(value);
  for (let i = off + len - 1; i > off; i--) {
    h[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  h[off] = 0x80;
}

/** A file written with backpressure; `onChunk` sees every byte (for hashing/signing) in order. */
export class FileSink {
  private readonly stream: WriteStream;
  private failure: Error | null = null;

  constructor(path: string, private readonly onChunk: (chunk: Buffer) => void) {
    this.stream = createWriteStream(path, { flags: 'wx' });
    this.stream.on('error', (err) => {
      this.failure = err;
    });
  }

  write = async (chunk: Buffer): Promise<void> => {
    if (this.failure) throw this.failure;
    this.onChunk(chunk);
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
    if (this.failure) throw this.failure;
  };

  async close(): Promise<void> {
    if (this.failure) throw this.failure;
    this.stream.end();
    await once(this.stream, 'close');
    if (this.failure) throw this.failure;
  }

  /** Closes after a failure without raising. */
  async abort(): Promise<void> {
    if (this.stream.closed) return;
    this.stream.destroy();
    await once(this.stream, 'close').catch(() => {});
  }
}
