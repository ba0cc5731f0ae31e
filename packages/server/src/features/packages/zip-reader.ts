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
  /** where the central directory starts: entry data must end before it */
  private readonly directoryOffset: number;
  private constructor(
    private readonly zip: ZipFile,
    readonly fileSize: number,
    private readonly reader: FileReader,
  ) {
    // Keep a listener so a late error never becomes an uncaught 'error' event.
    zip.on('error', () => {});
    this.directoryOffset = (zip as unknown as YauzlInternals).readEntryCursor;
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
    return new ZipReader(zip, size, reader);
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

  /**
   * After the last record: the directory must end where an end record starts. yauzl reads as
   * many records as the end record declares, so a count below the real one would silently
   * drop the records after it (files that unzip shows but the package would not hold).
   */
  async assertDirectoryEnd(): Promise<void> {
    const at = (this.zip as unknown as YauzlInternals).readEntryCursor;
    const sig = await this.bytesAt(at, 4);
    const v = sig.length === 4 ? sig.readUInt32LE(0) : -1;
    if (v !== EOCD_SIGNATURE && v !== ZIP64_EOCD_SIGNATURE) {
      throw new PackageError('TruncatedZip', 'The zip is damaged: its central directory holds more records than its end record declares.');
    }
  }

  /**
   * The local header of each entry must say what its central record says (name, method,
   * encryption and UTF-8 flags; CRC and sizes unless they follow the data), and each entry's
   * data must end before the next local header and before the directory: tools that read
   * local headers in order (Java's ZipInputStream, bsdtar, scanners) then see the files the
   * package holds, and no two entries share bytes (overlap bombs, small or large).
   */
  async checkLocalHeaders(entries: readonly ZipEntry[], nameOf: (i: number) => string): Promise<void> {
    const order = entries.map((_, i) => i).sort((a, b) => entries[a]!.relativeOffsetOfLocalHeader - entries[b]!.relativeOffsetOfLocalHeader);
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      const e = entries[i]!;
      const name = nameOf(i);
      const lh = await new Promise<LocalHeader>((resolve, reject) =>
        (this.zip as unknown as YauzlInternals).readLocalFileHeader(e, {}, (err, h) => (err ? reject(mapZipError(err, name)) : resolve(h!))),
      );
      const differs = (what: string) => new PackageError('TruncatedZip', `The zip is damaged: the local header of "${name}" disagrees with its directory record (${what}).`);
      if (!lh.fileName.equals(e.fileNameRaw)) throw differs('name');
      if (lh.compressionMethod !== e.compressionMethod) throw differs('compression method');
      if ((lh.generalPurposeBitFlag ^ e.generalPurposeBitFlag) & (FLAG_ENCRYPTED | FLAG_UTF8)) throw differs('flags');
      if (!(lh.generalPurposeBitFlag & FLAG_DATA_DESCRIPTOR)) {
        if (lh.crc32 !== e.crc32) throw differs('CRC-32');
        if (!sameSize(lh.compressedSize, e.compressedSize) || !sameSize(lh.uncompressedSize, e.uncompressedSize)) throw differs('sizes');
      }
      const next = k + 1 < order.length ? entries[order[k + 1]!]!.relativeOffsetOfLocalHeader : this.directoryOffset;
      if (lh.fileDataStart + e.compressedSize > next) {
        throw new PackageError('ZipBomb', `Entries of the zip overlap each other ("${name}" runs into the next record).`);
      }
    }
  }

  private bytesAt(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    return new Promise((resolve, reject) => this.reader.readAt(buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(buf.subarray(0, n)))));
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

/**
 * Whether a file is a whole, readable zip (its directory read to the end), without
 * inflating anything: what an app package (.apk, .hap, .ipa) must be before devices
 * are offered it. Throws the PackageError that says what is wrong.
 */
export async function assertReadableZip(path: string): Promise<void> {
  const zip = await ZipReader.open(path);
  try {
    let records = 0;
    while ((await zip.next()) !== null) records++;
    if (records === 0) throw new PackageError('EmptyPackage', 'The zip archive holds no files.');
    await zip.assertDirectoryEnd();
  } finally {
    zip.close();
  }
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DATA_DESCRIPTOR = 0x8;
const FLAG_UTF8 = 0x800;
/** a local size of 0xFFFFFFFF defers to the zip64 extra field, which the central record already resolved */
const sameSize = (local: number, central: number) => local === central || local === 0xffffffff;

interface LocalHeader {
  fileDataStart: number;
  generalPurposeBitFlag: number;
  compressionMethod: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  fileName: Buffer;
}

/** The yauzl 3 members used here that its types do not declare. */
interface YauzlInternals {
  readEntryCursor: number;
  readLocalFileHeader(entry: Entry, options: object, cb: (err: Error | null, h?: LocalHeader) => void): void;
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
  // a copy: the record's own buffer is a view of the reader's 64 KiB window
  lean.fileNameRaw = Buffer.from(e.fileNameRaw);
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
