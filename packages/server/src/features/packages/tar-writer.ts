import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

const BLOCK = 512;
const RECORD = 10240;
const NAME_LEN = 100;
const PREFIX_LEN = 155;
const OWNER = { uid: 500, gid: 500, uname: 'admin', gname: 'admin' };
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
const ZEROS = Buffer.alloc(RECORD);

/**
 * Where a path over 100 bytes is cut into the ustar prefix (up to 155 bytes) and
 * name (up to 100 bytes): at a "/", the name part as long as it may be. Null when
 * no cut fits (a single component over 100 bytes, or 256 bytes and more in all).
 */
export function splitTarPath(path: string): { prefix: Buffer; name: Buffer } | null {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length <= NAME_LEN) return { prefix: Buffer.alloc(0), name: bytes };
  // a folder's trailing "/" stays with its name
  const end = bytes[bytes.length - 1] === 0x2f ? bytes.length - 1 : bytes.length;
  for (let i = Math.max(0, bytes.length - NAME_LEN - 1); i < end; i++) {
    if (bytes[i] !== 0x2f) continue;
    if (i === 0 || i > PREFIX_LEN) return null;
    return { prefix: bytes.subarray(0, i), name: bytes.subarray(i + 1) };
  }
  return null;
}

/**
 * A GNU tar writer (magic "ustar  \0", the format of console-built packages):
 * owner admin/admin 500/500, files 0644, folders 0755, sizes of 8 GiB and more in
 * base-256, and the archive padded to a 10240-byte record. A path over 100 bytes
 * goes in a POSIX ustar header (magic "ustar\0" "00") cut into prefix and name:
 * Nebula's Android tar reader joins those two fields and knows no GNU
 * `././@LongLink` entry (it stored the file under its cut name and the link as a
 * file of its own). Every byte goes through `out` in order.
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
    const seconds = Math.max(0, Math.floor(mtime.getTime() / 1000));
    const split = splitTarPath(name);
    // planLayout refuses such paths first; this guards other callers
    if (!split) throw new Error(`tar: the path "${name}" does not fit a tar header (100-byte name, 155-byte prefix)`);
    await this.write(tarHeader(split.name, mode, OWNER.uid, OWNER.gid, size, seconds, type, OWNER.uname, OWNER.gname, split.prefix));
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
  prefix: Buffer = Buffer.alloc(0),
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
  // GNU's magic reads bytes 345.. as times, so a header with a prefix is a POSIX ustar one
  h.write(prefix.length ? 'ustar\u000000' : 'ustar  \0', 257, 'latin1');
  h.write(uname, 265, 'latin1');
  h.write(gname, 297, 'latin1');
  prefix.copy(h, 345);
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
