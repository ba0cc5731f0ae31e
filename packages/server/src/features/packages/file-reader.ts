import { read as readFd } from 'node:fs';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';

const READ_AHEAD = 64 * 1024;
type RefCounted = new () => NodeJS.EventEmitter & { ref(): void; unref(): void };

/**
 * The random-access reader handed to yauzl. yauzl's own file reader creates a read
 * stream for every central-directory read (two per entry, about 0.1 ms each); this one
 * uses positional fs.read with a 64 KiB read-ahead window for sequential reads, so the
 * directory costs one read per 64 KiB. The file is closed only once no read is in
 * flight, so a late read can never hit a reused descriptor.
 */
export class FileReader extends (yauzl.RandomAccessReader as unknown as RefCounted) {
  private window = Buffer.alloc(0);
  private windowStart = 0;
  private lastEnd = -1;
  private pending = 0;
  private closeWhenIdle: (() => void) | null = null;

  constructor(
    private readonly fd: number,
    private readonly closeFile: () => Promise<void>,
  ) {
    super();
  }

  /** fs.read at a position, counted so that close() waits for it. */
  readAt(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead: number) => void): void {
    this.pending++;
    readFd(this.fd, buffer, offset, length, position, (err, n) => {
      this.pending--;
      if (this.pending === 0 && this.closeWhenIdle) this.closeWhenIdle();
      callback(err, n);
    });
  }

  _readStreamForRange(start: number, end: number): Readable {
    return new RangeStream(this, start, end);
  }

  read(buffer: Buffer, offset: number, length: number, position: number, callback: (err: Error | null, bytesRead?: number) => void): void {
    const sequential = position === this.lastEnd;
    this.lastEnd = position + length;
    const w = this.window;
    if (position >= this.windowStart && position + length <= this.windowStart + w.length) {
      w.copy(buffer, offset, position - this.windowStart, position - this.windowStart + length);
      process.nextTick(callback, null, length);
      return;
    }
    if (!sequential || length >= READ_AHEAD) {
      this.readAt(buffer, offset, length, position, callback);
      return;
    }
    // A fresh buffer per fill: a read still in flight may be writing into the previous one.
    const fill = Buffer.allocUnsafe(READ_AHEAD);
    this.readAt(fill, 0, READ_AHEAD, position, (err, n) => {
      if (err) return callback(err);
      this.window = fill.subarray(0, n);
      this.windowStart = position;
      const got = Math.min(n, length);
      fill.copy(buffer, offset, 0, got);
      callback(null, got);
    });
  }

  close(callback: (err: Error | null) => void): void {
    const done = () => {
      this.closeWhenIdle = null;
      this.closeFile().then(() => callback(null), callback);
    };
    if (this.pending === 0) done();
    else this.closeWhenIdle = done;
  }
}

/** Bytes [start, end) of the shared descriptor (fs.createReadStream would close it when destroyed). */
class RangeStream extends Readable {
  private pos: number;

  constructor(
    private readonly file: FileReader,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.pos = start;
  }

  override _read(size: number): void {
    const n = Math.min(Math.max(size, READ_AHEAD), this.end - this.pos);
    if (n <= 0) {
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(n);
    this.file.readAt(buf, 0, n, this.pos, (err, got) => {
      if (this.destroyed) return;
      if (err) return this.destroy(err);
      if (got === 0) return this.destroy(new Error('unexpected EOF'));
      this.pos += got;
      this.push(got < n ? buf.subarray(0, got) : buf);
    });
  }
}
