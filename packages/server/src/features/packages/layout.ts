import { PackageError } from './errors.js';
import { splitTarPath } from './tar-writer.js';
import type { ScannedEntry } from './zip-scan.js';

/** Vendor values of ResourceType. */
export const RESOURCE_TYPE_GLOBAL = 0;
export const RESOURCE_TYPE_NORMAL = 1;

export interface LayoutInput {
  h5Id: string;
  resourceType: 0 | 1;
  appId: string;
  workspaceId: string;
  /** Cap on tar entries, folders implied by file paths included. */
  maxEntries: number;
  /** mtime of folders that the zip implies but does not list. */
  mtime: Date;
}

export interface TarItem {
  /** Path inside the tar, without a trailing slash. */
  path: string;
  dir: boolean;
  size: number;
  mtime: Date;
  /** The zip entry to copy, or null for generated content (`data`) and implied folders. */
  source: ScannedEntry | null;
  data?: Buffer;
}

export interface LayoutPlan {
  items: TarItem[];
  /** Number of files taken from the zip. */
  files: number;
  /** The upload brings its own root `hpmfile.json`; the template is then not added. */
  hasHpmfile: boolean;
}

/** 8 digits for an offline package, 16 for a mini program (the console's two id rules) */
export const PACKAGE_ID = /^(\d{8}|\d{16})$/;
/** the informational file at the tar root (amr-files.ts hpmfileJson), the upload's own or the template */
export const HPMFILE = 'hpmfile.json';
const LABEL = '(?!-)[A-Za-z0-9-]{1,63}(?<!-)';
const DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*(?::(\\d{1,5}))?$`);

/** macOS archive junk, dropped silently (after the safety checks of the scan). */
export function isJunk(name: string): boolean {
  return name === '__MACOSX' || name.startsWith('__MACOSX/') || name === '.DS_Store' || name.endsWith('/.DS_Store');
}

export function isDomainFolder(name: string): boolean {
  const m = DOMAIN.exec(name);
  if (!m) return false;
  const host = m[1] === undefined ? name : name.slice(0, -(m[1].length + 1));
  if (host.length > 253) return false;
  return m[1] === undefined || (Number(m[1]) >= 1 && Number(m[1]) <= 65535);
}

/** Zip entries laid out between two pauses of planLayout. */
const LAYOUT_SLICE = 2000;

/**
 * Maps the upload (vendor guide "Generate offline packages") to tar entries.
 * Normal: `<h5Id>/<anything>` -> `<anything>`. Global:
 * `<h5Id>/<domain>/<appId>_<workspaceId>/<path>` -> the same without `<h5Id>/`;
 * one domain folder, files only below the `<appId>_<workspaceId>` folder.
 */
export async function planLayout(entries: ScannedEntry[], input: LayoutInput, pause?: () => Promise<void>): Promise<LayoutPlan> {
  const { h5Id, resourceType } = input;
  if (!PACKAGE_ID.test(h5Id)) throw new PackageError('BadLayout', `The H5 app id must be 8 digits (16 for a mini program), got "${h5Id}".`);
  const global = resourceType === RESOURCE_TYPE_GLOBAL;
  const scope = `${input.appId}_${input.workspaceId}`;
  const items = new Map<string, TarItem>();
  // paths by their NFC form: iOS file systems (APFS) take two spellings of one name (é composed or not) as one file
  const spellings = new Map<string, string>();
  let files = 0;
  let hasHpmfile = false;
  let domain: string | null = null;

  const add = (item: TarItem): void => {
    const prev = items.get(item.path);
    if (prev) {
      if (prev.dir && item.dir) {
        if (item.source) items.set(item.path, item); // an explicit folder entry wins over an implied one
        return;
      }
      throw new PackageError('DuplicateEntry', `The package holds "${item.path}" both as a file and as a folder.`);
    }
    // eslint-disable-next-line no-control-regex
    const nfc = /^[\u0000-\u007f]*$/.test(item.path) ? item.path : item.path.normalize('NFC');
    const other = spellings.get(nfc);
    if (other !== undefined && other !== item.path) {
      throw new PackageError('DuplicateEntry', `The package holds ${JSON.stringify(other)} and ${JSON.stringify(item.path)}: one name in two Unicode spellings, which iOS stores as one file.`);
    }
    spellings.set(nfc, item.path);
    if (!splitTarPath(item.dir ? `${item.path}/` : item.path)) {
      throw new PackageError(
        'BadLayout',
        `The path "${item.path}" is too long for the package: Nebula clients read tar names of at most 100 bytes after a folder part of at most 155 bytes; shorten its folders or its name.`,
      );
    }
    if (items.size >= input.maxEntries) {
      throw new PackageError('TooManyEntries', `The package needs more than ${input.maxEntries} tar entries (folders and the ${HPMFILE} the server adds included).`);
    }
    items.set(item.path, item);
  };

  for (let n = 0; n < entries.length; n++) {
    // 15,000 files take tens of milliseconds to lay out: the node's other requests get turns in between
    if (pause && n > 0 && n % LAYOUT_SLICE === 0) await pause();
    const e = entries[n]!;
    if (isJunk(e.name)) continue;
    const segs = e.name.split('/');
    const top = segs[0]!;
    if (top !== h5Id) {
      throw new PackageError(
        'BadLayout',
        segs.length === 1 && !e.dir
          ? `The file "${e.name}" is outside the top-level folder; the zip must hold exactly one folder named ${h5Id}.`
          : `The zip must hold exactly one top-level folder named ${h5Id} (the H5 app id); found "${top}".`,
      );
    }
    const rel = segs.slice(1);
    if (rel.length === 0) {
      // the top-level folder itself; a file of that name would be dropped without a word (unzip refuses such a zip)
      if (!e.dir) throw new PackageError('DuplicateEntry', `The zip holds "${h5Id}" both as a file and as the top-level folder.`);
      continue;
    }
    if (global) checkGlobalPath(rel, e, scope, h5Id);
    if (global && domain !== null && rel[0] !== domain) {
      throw new PackageError('BadLayout', `A global resource package holds one domain folder; found "${domain}" and "${rel[0]}".`);
    }
    if (global) domain = rel[0]!;
    for (let i = 1; i < rel.length; i++) {
      add({ path: rel.slice(0, i).join('/'), dir: true, size: 0, mtime: input.mtime, source: null });
    }
    const path = rel.join('/');
    add({ path, dir: e.dir, size: e.size, mtime: e.mtime, source: e });
    if (!e.dir) {
      files++;
      if (path === HPMFILE) hasHpmfile = true;
    }
  }
  if (items.get(HPMFILE)?.dir) {
    throw new PackageError('DuplicateEntry', `The package holds a folder named ${HPMFILE}, the name of the file every package carries at its root.`);
  }
  if (files === 0) {
    throw new PackageError(
      'EmptyPackage',
      global
        ? `The package holds no files below ${h5Id}/<domain>/${scope}/.`
        : `The package holds no files below the ${h5Id}/ folder.`,
    );
  }
  // the hpmfile.json the build adds is a tar entry like the others
  if (!hasHpmfile && items.size >= input.maxEntries) {
    throw new PackageError('TooManyEntries', `The package needs more than ${input.maxEntries} tar entries (folders and the ${HPMFILE} the server adds included).`);
  }
  return { items: [...items.values()], files, hasHpmfile };
}

/** The folder a private-cloud global package puts between the domain and AppId_WorkspaceId (guide §5.2). */
const PRIVATE_CLOUD_DIR = 'mcube';

function checkGlobalPath(rel: string[], e: ScannedEntry, scope: string, h5Id: string): void {
  const expected = `${h5Id}/<domain>/${scope}/<path> (private cloud: ${h5Id}/<domain>/${PRIVATE_CLOUD_DIR}/${scope}/<path>)`;
  if (!isDomainFolder(rel[0]!)) {
    throw new PackageError(
      'BadLayout',
      `In a global resource package the second level must be a domain (host name, optionally ":port"), as in ${expected}; found "${rel[0]}".`,
    );
  }
  // where AppId_WorkspaceId sits: right below the domain, or below its "mcube" folder (scope always holds "_", so it is never "mcube")
  const at = rel[1] === PRIVATE_CLOUD_DIR ? 2 : 1;
  if (!e.dir && rel.length < at + 2) {
    throw new PackageError('BadLayout', `The file "${e.name}" must sit below ${h5Id}/${rel.slice(0, at).join('/')}/${scope}/ in a global resource package.`);
  }
  if (rel.length > at && rel[at] !== scope) {
    throw new PackageError('BadLayout', `In a global resource package the third level must be "${scope}" (AppId_WorkspaceId), as in ${expected}; found "${rel[at]}".`);
  }
}

/** Tar order: sorted path by path, so every folder comes before what it holds. */
export function sortTarItems(items: TarItem[]): TarItem[] {
  const key = (p: string) => p.replaceAll('/', '\0');
  return items
    .map((item) => ({ item, k: key(item.path) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0))
    .map((x) => x.item);
}
