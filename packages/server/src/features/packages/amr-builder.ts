import { createHash, createSign, sign, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { handBack } from '../../core/hand-back.js';
import yazl from 'yazl';
import { WORK_ENTRY_PREFIX } from '../../core/stale-files.js';
import { certJson, hpmfileJson, manifestXml } from './amr-files.js';
import { PackageError, type PackageLimits } from './errors.js';
import { HPMFILE, PACKAGE_ID, planLayout, sortTarItems, type LayoutPlan, type TarItem } from './layout.js';
import { FileSink, TarWriter } from './tar-writer.js';
import { ByteBudget, ZipReader, readEntryChunks } from './zip-reader.js';
import { scanZip } from './zip-scan.js';

export interface BuildAmrInput {
  zipPath: string;
  h5Id: string;
  version: string;
  /** Vendor values: 0 global resource package, 1 normal package. */
  resourceType: 0 | 1;
  appId: string;
  workspaceId: string;
  /** Signs CERT.json; null leaves its values empty (clients with verification off). */
  privateKey: KeyObject | null;
  limits: PackageLimits;
  /** Temp files go in a fresh folder below it. */
  workDir: string;
  /** mtime of generated entries (hpmfile.json, implied folders, .amr entries); default now. */
  mtime?: Date;
}

export interface BuildAmrResult {
  amrPath: string;
  /** Lower-case hex MD5 of the .amr. */
  md5: string;
  size: number;
  /** Tar entry names in tar order; folders end with "/". */
  entries: string[];
  /** Number of files taken from the upload. */
  files: number;
  /** Tar path of the first uploaded file (global packages: `<domain>/<appId>_<ws>/...`, for global_pack_url). */
  firstFile: string;
  tarSize: number;
  /** Removes the .amr and its temp folder; safe to call twice. */
  cleanup(): Promise<void>;
}

const VERSION = /^[^\u0000-\u001f\u007f]{1,64}$/;

/**
 * Upload zip -> .amr (offline-package-format.md §1): scan the zip's directory, map its
 * layout, stream the files into a GNU tar on disk while signing it, then zip
 * Manifest.xml, CERT.json and the tar. Nothing is held whole in memory; on failure
 * the temp folder is removed.
 */
export async function buildAmr(input: BuildAmrInput): Promise<BuildAmrResult> {
  if (!PACKAGE_ID.test(input.h5Id)) throw new PackageError('BadLayout', `The H5 app id must be 8 digits (16 for a mini program), got "${input.h5Id}".`);
  if (input.resourceType !== 0 && input.resourceType !== 1) throw new PackageError('BadLayout', 'ResourceType must be 0 (global) or 1 (normal).');
  if (!VERSION.test(input.version)) throw new PackageError('BadLayout', 'The H5 version must be 1 to 64 printable characters.');
  const mtime = input.mtime ?? new Date();
  await mkdir(input.workDir, { recursive: true });
  const dir = await mkdtemp(join(input.workDir, `${WORK_ENTRY_PREFIX}amr-${input.h5Id}-`));
  let removed = false;
  const cleanup = async () => {
    if (removed) return;
    removed = true;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const tarPath = join(dir, `${input.h5Id}.tar`);
    const tar = await buildTar(input, tarPath, mtime);
    const manifest = Buffer.from(manifestXml(input.h5Id, input.version), 'utf8');
    const manifestSig = input.privateKey ? sign('sha1', manifest, input.privateKey).toString('base64') : '';
    const cert = certJson(input.h5Id, tar.signature, manifestSig);
    const amrPath = join(dir, 'package.amr');
    const amr = await writeAmr(amrPath, [
      { name: 'Manifest.xml', data: manifest },
      { name: 'CERT.json', data: cert },
      { name: `${input.h5Id}.tar`, path: tarPath, size: tar.size },
    ], mtime);
    await rm(tarPath);
    return { amrPath, md5: amr.md5, size: amr.size, entries: tar.entries, files: tar.files, firstFile: tar.firstFile, tarSize: tar.size, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Calls `fn` with every file the package takes from the upload (its path in the
 * tar, its size, its bytes as chunks), one after another, read from the zip again
 * with the same checks and budget as the build; for publishing the unpacked
 * copy devices fall back to (fallback_base_url). Call it after buildAmr has
 * accepted the zip. The hpmfile.json the build generates when the upload has
 * none is not one of them; an uploaded one is.
 */
export async function forEachPackageFile(
  input: PlanInput,
  fn: (path: string, size: number, chunks: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  await withPlan(input, new Date(0), async (zip, plan) => {
    const budget = new ByteBudget(input.limits.maxTotalBytes);
    for (const it of plan.items) {
      if (it.dir || !it.source) continue;
      await fn(it.path, it.size, readEntryChunks(zip, it.source, budget));
    }
  });
}

type PlanInput = Pick<BuildAmrInput, 'zipPath' | 'h5Id' | 'version' | 'resourceType' | 'appId' | 'workspaceId' | 'limits'>;

/** Opens the upload, checks its directory and plans the tar layout from it; the zip is closed when `fn` ends. */
async function withPlan<T>(input: PlanInput, mtime: Date, fn: (zip: ZipReader, plan: LayoutPlan) => Promise<T>): Promise<T> {
  const zip = await ZipReader.open(input.zipPath);
  try {
    const scanned = await scanZip(zip, input.limits);
    return await fn(zip, await planLayout(scanned, { ...input, maxEntries: input.limits.maxEntries, mtime }, handBack));
  } finally {
    zip.close();
  }
}

interface TarResult {
  size: number;
  signature: string;
  entries: string[];
  files: number;
  firstFile: string;
}

async function buildTar(input: BuildAmrInput, tarPath: string, mtime: Date): Promise<TarResult> {
  return withPlan(input, mtime, async (zip, plan) => {
    const items: TarItem[] = plan.items;
    if (!plan.hasHpmfile) {
      const data = hpmfileJson(input.h5Id, input.version);
      items.push({ path: HPMFILE, dir: false, size: data.length, mtime, source: null, data });
    }
    const sorted = sortTarItems(items);
    const signer = input.privateKey ? createSign('sha1') : null;
    const sink = new FileSink(tarPath, (chunk) => signer?.update(chunk));
    const tar = new TarWriter(sink.write);
    const budget = new ByteBudget(input.limits.maxTotalBytes);
    let size: number;
    try {
      for (const it of sorted) {
        if (it.dir) await tar.directory(it.path, it.mtime);
        else await tar.file(it.path, it.size, it.mtime, it.data ?? readEntryChunks(zip, it.source!, budget));
      }
      size = await tar.end();
      await sink.close();
    } catch (err) {
      await sink.abort();
      throw err;
    }
    return {
      size,
      signature: signer && input.privateKey ? signer.sign(input.privateKey).toString('base64') : '',
      entries: sorted.map((it) => (it.dir ? `${it.path}/` : it.path)),
      files: plan.files,
      firstFile: sorted.find((it) => !it.dir && it.source)!.path,
    };
  });
}

type AmrPart = { name: string; data: Buffer } | { name: string; path: string; size: number };

/** Writes the .amr zip (deflate, entries in the given order) and returns its MD5 and size. */
async function writeAmr(amrPath: string, parts: AmrPart[], mtime: Date): Promise<{ md5: string; size: number }> {
  const zip = new yazl.ZipFile();
  const options = { mtime, mode: 0o100644, compress: true };
  for (const p of parts) {
    if ('data' in p) zip.addBuffer(p.data, p.name, options);
    else zip.addReadStream(createReadStream(p.path), p.name, { ...options, size: p.size });
  }
  zip.end();
  const out = zip.outputStream as Readable;
  zip.on('error', (err: Error) => out.destroy(err));
  const md5 = createHash('md5');
  let size = 0;
  await pipeline(
    out,
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        md5.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    },
    createWriteStream(amrPath, { flags: 'wx' }),
  );
  return { md5: md5.digest('hex'), size };
}
