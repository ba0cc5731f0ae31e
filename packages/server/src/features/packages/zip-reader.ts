import { open as openFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import type { Entry, RandomAccessReader, ZipFile } from 'yauzl';
import { PackageError } from './errors.js';
import { FileReader } from './file-reader.js';
import type { ScannedEntry } from './zip-scan.js';

/** The yauzl 3 fields we use that @types/yauzl (2.x) does not declare. */
export interface ZipEntry extends Entry {
  fileNameRaw: Buffer;
  getLastModDate(options?: { timezone?: 'UTC' | 'local'; forceDosFormat?: boolean }): Date;
}

/**
 * A zip file on disk, read lazily with yauzl: the central directory one record at a
 * time, entry data as streams. Names are left undecoded by yauzl (decodeStrings off)
 * so that backslashes and `..` reach our own checks instead of yauzl's generic errors.
 */
export class ZipReader {
  private done = false;
  private constructor(
    private readonly zip: ZipFile,
    readonly fileSize: number,
  ) {
    // Keep a listener so a late error never becomes an uncaught 'error' event.
    zip.on('error', () => {});
  }

  /** Declared number of entries, from the end-of-central-directory record (read before any entry). */
  get entryCount(): number {
    return this.zip.entryCount;
  }

  static async open(path: string): Promise<ZipReader> {
    const fh = await openFile(path, 'r');
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (err) {
      await fh.close();
      throw err;
    }
    let closing: Promise<void> | null = null;
    const closeFile = () => (closing ??= fh.close());
    const reader = new FileReader(fh.fd, closeFile);
    reader.on('error', () => {}); // a failed close is not worth crashing for
    const zip = await new Promise<ZipFile>((resolve, reject) => {
      yauzl.fromRandomAccessReader(
        reader as unknown as RandomAccessReader,
        size,
        { lazyEntries: true, autoClose: false, validateEntrySizes: true, decodeStrings: false, strictFileNames: true },
        (err, zf) => (err ? reject(err) : resolve(zf)),
      );
    }).catch(async (err: unknown) => {
      await closeFile(); // yauzl keeps its reference on the reader when opening fails
      throw await classifyOpenError(path, err);
    });
    return new ZipReader(zip, size);
  }

  /** The next central-directory record, or null at the end. */
  next(): Promise<ZipEntry | null> {
    if (this.done) return Promise.resolve(null);
    const zip = this.zip;
    return new Promise((resolve, reject) => {
      const onEntry = (e: ZipEntry) => {
        off();
        resolve(e);
      };
      const onEnd = () => {
        off();
        this.done = true;
        resolve(null);
      };
      const onError = (err: unknown) => {
        off();
        this.done = true;
        reject(mapZipError(err));
      };
      const off = () => {
        zip.off('entry', onEntry);
        zip.off('end', onEnd);
        zip.off('error', onError);
      };
      zip.on('entry', onEntry);
      zip.on('end', onEnd);
      zip.on('error', onError);
      zip.readEntry();
    });
  }

  openStream(entry: ZipEntry): Promise<Readable> {
    return new Promise((resolve, reject) => {
      this.zip.openReadStream(entry, (err, stream) => (err ? reject(mapZipError(err)) : resolve(stream)));
    });
  }

  close(): void {
    if (this.zip.isOpen) this.zip.close();
  }
}

async function classifyOpenError(path: string, err: unknown): Promise<PackageError> {
  const head = Buffer.alloc(4);
  const fh = await openFile(path, 'r');
  let n = 0;
  try {
    n = (await fh.read(head, 0, 4, 0)).bytesRead;
  } finally {
    await fh.close();
  }
  const msg = err instanceof Error ? err.message : String(err);
  // A local-file-header signature at offset 0 means a zip whose tail (central directory) is missing.
  if (n >= 2 && head[0] === 0x50 && head[1] === 0x4b) {
    return new PackageError('TruncatedZip', `The upload starts like a zip but its central directory is missing or damaged (${msg}).`);
  }
  if (/multi-disk/.test(msg)) return new PackageError('NotAZip', 'Multi-part (split) zip archives are not supported.');
  return new PackageError('NotAZip', 'The upload is not a zip archive.');
}

/**
 * A copy of an entry with only what reading its data needs, so that a directory of
 * thousands of entries does not keep every record's raw name, extra-field and comment
 * buffers alive until the tar is written.
 */
export function leanEntry(e: ZipEntry): ZipEntry {
  const lean = Object.create((yauzl as unknown as { Entry: { prototype: object } }).Entry.prototype) as ZipEntry;
  lean.generalPurposeBitFlag = e.generalPurposeBitFlag;
  lean.compressionMethod = e.compressionMethod;
  lean.compressedSize = e.compressedSize;
  lean.uncompressedSize = e.uncompressedSize;
  lean.relativeOffsetOfLocalHeader = e.relativeOffsetOfLocalHeader;
  lean.crc32 = e.crc32;
  return lean;
}

/** Maps yauzl/zlib failures met while reading entries to package errors. */
export function mapZipError(err: unknown, entryName?: string): PackageError {
  if (err instanceof PackageError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/too many bytes in the stream/.test(msg)) {
    const which = entryName === undefined ? 'An entry' : `The entry ${JSON.stringify(entryName)}`;
    return new PackageError('ZipBomb', `${which} inflates beyond its declared size (${msg}).`);
  }
  if (/strong encryption/.test(msg)) return new PackageError('EncryptedEntry', 'The zip uses strong encryption, which is not accepted.');
  if (/unsupported compression method/.test(msg)) return new PackageError('UnsupportedEntry', `The zip uses an unsupported compression method (${msg}).`);
  return new PackageError('TruncatedZip', `The zip is damaged or truncated (${msg}).`);
}

/** Counts real inflated bytes across the whole archive (declared sizes can lie). */
export class ByteBudget {
  private used = 0;
  constructor(private readonly max: number) {}
  spend(n: number): void {
    this.used += n;
    if (this.used > this.max) throw new PackageError('TooLarge', `The zip unpacks to more than ${this.max} bytes.`);
  }
}

/**
 * Second pass: the inflated data of one entry, chunk by chunk, never more than its
 * declared size, checked against its CRC-32 at the end.
 */
export async function* readEntryChunks(zip: ZipReader, s: ScannedEntry, budget: ByteBudget): AsyncGenerator<Buffer> {
  if (s.size === 0) {
    // Nothing to copy: no need to inflate whatever the entry claims to hold.
    if (s.crc32 !== 0) throw new PackageError('TruncatedZip', `The entry "${s.name}" is damaged (CRC-32 of an empty file is not 0).`);
    return;
  }
  const stream = await zip.openStream(s.entry).catch((err: unknown) => {
    throw mapZipError(err, s.name);
  });
  let n = 0;
  let crc = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > s.size) throw new PackageError('ZipBomb', `The entry "${s.name}" inflates beyond its declared ${s.size} bytes.`);
      budget.spend(chunk.length);
      crc = crc32(chunk, crc);
      yield chunk;
    }
  } catch (err) {
    throw mapZipError(err, s.name);
  } finally {
    stream.destroy();
  }
  if (n !== s.size) throw new PackageError('TruncatedZip', `The entry "${s.name}" is shorter than its declared ${s.size} bytes.`);
  if (crc !== s.crc32) throw new PackageError('TruncatedZip', `The entry "${s.name}" is damaged (CRC-32 mismatch).`);
}
