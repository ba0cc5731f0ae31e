import { open, readFile, readdir, realpath, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ZipWriter, type ZipSink } from './zip-writer.js';

/** 8 digits for an offline package, 16 for a mini program (the console's id rules) */
export const H5_ID = /^(\d{8}|\d{16})$/;
const JUNK = new Set(['.DS_Store', 'Thumbs.db', 'desktop.ini']);

export interface PackOptions {
  /** 8-digit offline package id: the top folder of the archive */
  h5Id: string;
  /** when given (e.g. /www/index.html), the file must exist in the package */
  mainUrl?: string;
}

export interface PackResult {
  /** the folder whose content went under <h5Id>/ */
  root: string;
  files: number;
  bytes: number;
}

export class PackError extends Error {
  readonly code = 'InvalidPackage';
}

/**
 * The files below `root`, relative, sorted; `skip` (an absolute path, the
 * archive being written) is left out. Symbolic links are followed, but a
 * folder that links back to one it lies in is refused: followed, it packed the
 * tree again at every level until the system gave up (about 40 deep).
 */
async function listFiles(root: string, skip?: string, rel = '', ancestors = new Set<string>()): Promise<string[]> {
  const here = await realpath(join(root, rel));
  if (ancestors.has(here)) throw new PackError(`${join(root, rel)} links back to a folder it lies in (a symbolic-link loop); remove the link or pack a copy`);
  const inside = new Set(ancestors).add(here);
  const out: string[] = [];
  const names = (await readdir(join(root, rel))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    if (JUNK.has(name)) continue;
    const r = rel ? `${rel}/${name}` : name;
    if (skip !== undefined && resolve(root, r) === skip) continue;
    const st = await stat(join(root, r)).catch(() => null);
    if (!st) continue; // dangling symlink
    if (st.isDirectory()) out.push(...(await listFiles(root, skip, r, inside)));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

/** The folder holding the package content: `folder`, or its only child when that child is already named <h5Id>. */
async function contentRoot(folder: string, h5Id: string): Promise<string> {
  const st = await stat(folder).catch(() => null);
  if (!st?.isDirectory()) throw new PackError(`${folder} is not a folder`);
  const names = (await readdir(folder)).filter((n) => !JUNK.has(n));
  if (names.length === 1 && names[0] === h5Id && (await stat(join(folder, h5Id))).isDirectory()) return join(folder, h5Id);
  return folder;
}

/**
 * Zips a built front-end folder in the layout the vendor guide requires: one
 * top folder named after the 8-digit H5 app id (16 digits for a mini program), the files below it
 * (`12345678/www/index.html`). Files are read one at a time; the archive is
 * written to `sink` as it grows.
 */
export async function packOfflinePackage(folder: string, sink: ZipSink, opts: PackOptions, skip?: string): Promise<PackResult> {
  if (!H5_ID.test(opts.h5Id)) throw new PackError(`H5 app id "${opts.h5Id}" must be 8 digits (16 for a mini program)`);
  const root = await contentRoot(folder, opts.h5Id);
  const files = await listFiles(root, skip);
  if (!files.length) throw new PackError(`${root} holds no files`);
  if (opts.mainUrl) {
    const main = opts.mainUrl.replace(/^\/+/, '').split(/[?#]/)[0]!;
    if (!files.includes(main)) throw new PackError(`main URL ${opts.mainUrl} is not in the package (no ${join(root, main)})`);
  }
  const zip = new ZipWriter(sink);
  let bytes = 0;
  for (const rel of files) {
    const path = join(root, rel);
    const [data, st] = await Promise.all([readFile(path), stat(path)]);
    bytes += data.length;
    await zip.addFile(`${opts.h5Id}/${rel}`, data, st.mtime);
  }
  await zip.finish();
  return { root, files: files.length, bytes };
}

/** Packs to a file (never into itself when it lies in the folder); a failed pack leaves no file behind. */
export async function packOfflinePackageToFile(folder: string, outFile: string, opts: PackOptions): Promise<PackResult> {
  const fh = await open(outFile, 'w');
  let ok = false;
  try {
    const write = async (b: Buffer) => {
      for (let off = 0; off < b.length; ) off += (await fh.write(b, off)).bytesWritten;
    };
    const result = await packOfflinePackage(folder, { write }, opts, resolve(outFile));
    ok = true;
    return result;
  } finally {
    await fh.close();
    if (!ok) await rm(outFile, { force: true });
  }
}

/** Packs into memory (small packages, tests). */
export async function packOfflinePackageToBuffer(folder: string, opts: PackOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  await packOfflinePackage(folder, { write: async (b) => void parts.push(b) }, opts);
  return Buffer.concat(parts);
}
