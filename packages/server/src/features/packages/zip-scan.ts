import { crc32 } from 'node:zlib';
import { PackageError, type PackageLimits } from './errors.js';
import { leanEntry, type ZipEntry, type ZipReader } from './zip-reader.js';

/** Entries below this uncompressed size are not judged by their compression ratio. */
export const RATIO_MIN_BYTES = 1024 * 1024;
/** Longest entry name accepted, in UTF-8 bytes (bounds what the directory scan keeps per entry). */
export const MAX_NAME_BYTES = 1024;

export interface ScannedEntry {
  /** Decoded name without a trailing slash. */
  name: string;
  dir: boolean;
  size: number;
  compressedSize: number;
  crc32: number;
  mtime: Date;
  entry: ZipEntry;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * First pass: walks the central directory and the local headers (no entry data is read)
 * and refuses anything hostile before a byte is inflated. The entry count comes from the
 * end-of-central-directory record, so an archive with too many entries is refused
 * before any record is read.
 */
export async function scanZip(zip: ZipReader, limits: PackageLimits): Promise<ScannedEntry[]> {
  if (zip.entryCount > limits.maxEntries) {
    throw new PackageError('TooManyEntries', `The zip declares ${zip.entryCount} entries; at most ${limits.maxEntries} are allowed.`);
  }
  const out: ScannedEntry[] = [];
  const seen = new Set<string>();
  let totalSize = 0;
  let totalCompressed = 0;
  let count = 0;
  for (let e = await zip.next(); e; e = await zip.next()) {
    if (++count > limits.maxEntries) {
      throw new PackageError('TooManyEntries', `The zip holds more than ${limits.maxEntries} entries.`);
    }
    const s = checkEntry(e, limits);
    totalSize += s.size;
    totalCompressed += s.compressedSize;
    if (totalSize > limits.maxTotalBytes) {
      throw new PackageError('TooLarge', `The zip unpacks to more than ${limits.maxTotalBytes} bytes.`);
    }
    if (seen.has(s.name)) {
      throw new PackageError('DuplicateEntry', `The zip holds "${s.name}" more than once.`);
    }
    seen.add(s.name);
    out.push(s);
  }
  // Entries whose data overlap (the "overlapping files" bomb) claim more compressed bytes than the file has.
  if (totalCompressed > zip.fileSize) {
    throw new PackageError('ZipBomb', 'Entries of the zip overlap each other.');
  }
  if (totalSize >= RATIO_MIN_BYTES && totalSize > zip.fileSize * limits.maxRatio) {
    throw new PackageError('ZipBomb', `The zip expands ${Math.round(totalSize / Math.max(zip.fileSize, 1))} times; at most ${limits.maxRatio} is allowed.`);
  }
  await zip.assertDirectoryEnd();
  await zip.checkLocalHeaders(
    out.map((s) => s.entry),
    (i) => out[i]!.name,
  );
  return out;
}

function checkEntry(e: ZipEntry, limits: PackageLimits): ScannedEntry {
  const raw = decodeName(e);
  if (e.generalPurposeBitFlag & 0x1) {
    throw new PackageError('EncryptedEntry', `The entry "${raw}" is encrypted; upload an unencrypted zip.`);
  }
  const name = checkName(raw);
  const mode = e.externalFileAttributes >>> 16;
  const type = mode & S_IFMT;
  if (mode !== 0 && type !== 0 && type !== S_IFREG && type !== S_IFDIR) {
    const what = type === S_IFLNK ? 'a symbolic link' : 'a special file';
    throw new PackageError('LinkEntry', `The entry "${raw}" is ${what}; only regular files and folders are accepted.`);
  }
  const dir = raw.endsWith('/') || type === S_IFDIR;
  if (e.compressionMethod !== 0 && e.compressionMethod !== 8) {
    throw new PackageError('UnsupportedEntry', `The entry "${raw}" uses compression method ${e.compressionMethod}; only stored and deflate are accepted.`);
  }
  if (dir && e.uncompressedSize !== 0) {
    throw new PackageError('BadLayout', `The folder entry "${raw}" carries data.`);
  }
  if (e.uncompressedSize > limits.maxTotalBytes) {
    throw new PackageError('TooLarge', `The entry "${raw}" unpacks to ${e.uncompressedSize} bytes; at most ${limits.maxTotalBytes} are allowed.`);
  }
  if (e.uncompressedSize >= RATIO_MIN_BYTES && e.uncompressedSize > Math.max(e.compressedSize, 1) * limits.maxRatio) {
    throw new PackageError('ZipBomb', `The entry "${raw}" expands ${Math.round(e.uncompressedSize / Math.max(e.compressedSize, 1))} times; at most ${limits.maxRatio} is allowed.`);
  }
  return {
    name,
    dir,
    size: e.uncompressedSize,
    compressedSize: e.compressedSize,
    crc32: e.crc32,
    mtime: e.getLastModDate(),
    entry: leanEntry(e),
  };
}

/**
 * Names are UTF-8 when flagged (bit 11) or carried in an Info-ZIP Unicode path field.
 * Unflagged names must be ASCII or valid UTF-8 (macOS and most tools write UTF-8
 * without the flag); legacy code pages (e.g. GBK from old Windows tools) are refused
 * rather than turned into names that no URL will ever match.
 */
function decodeName(e: ZipEntry): string {
  const rawName = e.fileNameRaw;
  for (const f of e.extraFields) {
    if (f.id === 0x7075 && f.data.length >= 6 && f.data[0] === 1 && f.data.readUInt32LE(1) === crc32(rawName)) {
      return utf8Name(f.data.subarray(5), rawName);
    }
  }
  if (e.generalPurposeBitFlag & 0x800 || rawName.some((b) => b >= 0x80)) return utf8Name(rawName, rawName);
  return rawName.toString('latin1');
}

function utf8Name(bytes: Buffer, rawName: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PackageError('BadLayout', `An entry name is not valid UTF-8 (${rawName.toString('latin1')}); create the zip with UTF-8 file names.`);
  }
}

/** Returns the name without its trailing slash, or throws. */
function checkName(raw: string): string {
  if (raw.length === 0) throw new PackageError('BadLayout', 'The zip holds an entry with an empty name.');
  if (Buffer.byteLength(raw) > MAX_NAME_BYTES) {
    throw new PackageError('BadLayout', `An entry name is longer than ${MAX_NAME_BYTES} bytes.`);
  }
  if (raw.split(/[\\/]/).includes('..')) {
    throw new PackageError('ZipSlip', `The entry "${raw}" climbs out of its folder with "..".`);
  }
  if (/^[\\/]/.test(raw) || /^[A-Za-z]:/.test(raw)) {
    throw new PackageError('AbsolutePath', `The entry "${raw}" has an absolute path.`);
  }
  if (raw.includes('\\')) {
    throw new PackageError('AbsolutePath', `The entry "${raw}" uses backslashes; paths must use "/".`);
  }
  // C0 and C1 controls, line and paragraph separators, and the bidi controls that make a name display as another
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(raw)) {
    throw new PackageError('BadLayout', `An entry name contains control characters (${JSON.stringify(raw)}).`);
  }
  const name = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (name.split('/').some((seg) => seg === '' || seg === '.')) {
    throw new PackageError('BadLayout', `The entry "${raw}" has an empty or "." path segment.`);
  }
  return name;
}
