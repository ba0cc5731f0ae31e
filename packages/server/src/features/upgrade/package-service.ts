import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';
import { commitBlob, dropBlobs, ReservationLost, reserveBlob } from '../../db/blob-registry.js';
import { bumpStamp } from '../../db/stamps.js';
import { invalid, shown } from '../nebula/rules/field-error.js';
import { compareVersions } from '../nebula/rules/version.js';
import { withWorkDir } from '../nebula/work-dir.js';
import { assertReadableZip, PackageError } from '../packages/index.js';
import { buildExpired, copyUploadedObject, removeClaimedBlobs, removeDroppedBlobs, resolveUploadedObject, type Reservation } from '../storage/index.js';
import { FILE_EXTENSIONS, type PackageSpec } from './rules/package-fields.js';
import { deletePackageCascade, getPackage, insertPackage, listPackages, listTasks, openTaskCounts, versionsOf, type TaskCounts } from './upgrade-store.js';
import type { UpgradePackage } from './upgrade-types.js';

export const UPGRADE_PAGE_SIZE = 20;
export const MAX_UPGRADE_PAGE_SIZE = 200;
/** Icons are small pictures; a larger upload is refused before it is copied. */
export const MAX_ICON_BYTES = 5 * 1024 * 1024;

const typeName: Record<string, string> = { apk: 'Android', hap: 'Harmony', enterprise: 'iOS enterprise', appstore: 'iOS App Store', testflight: 'iOS TestFlight' };

/** What an uploaded file must be: its key's extension and its first bytes. */
interface FileKind {
  field: string;
  what: string;
  extensions: string[];
  magic: Buffer[];
  maxBytes: number;
  /** a deeper check of the copied file: throws a PackageError saying what is wrong */
  check?: (path: string) => Promise<void>;
}

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const kinds = {
  package: (spec: PackageSpec, maxBytes: number): FileKind => {
    const exts = FILE_EXTENSIONS[spec.packageType as 'apk' | 'hap' | 'enterprise'];
    // devices must be able to install what they are offered: a cut-off or damaged archive is refused here
    return { field: 'FileUrl', what: `an ${exts.join(' or ')} package (a zip archive)`, extensions: exts, magic: [ZIP], maxBytes, check: assertReadableZip };
  },
  icon: (maxBytes: number): FileKind => ({
    field: 'IconFileUrl',
    what: 'a .png or .jpg picture',
    extensions: ['.png', '.jpg', '.jpeg'],
    magic: [Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from([0xff, 0xd8, 0xff])],
    maxBytes: Math.min(maxBytes, MAX_ICON_BYTES),
  }),
  symbol: (maxBytes: number): FileKind => ({ field: 'IosSymbolfileUrl', what: 'a dSYM symbol table packed as .tgz', extensions: ['.tgz', '.tar.gz'], magic: [Buffer.from([0x1f, 0x8b])], maxBytes }),
};

interface StoredFile {
  key: string;
  name: string;
  md5: string;
  size: number;
}

function checkVersionFree(versions: string[], spec: PackageSpec): void {
  const same = versions.find((v) => compareVersions(v, spec.appVersion) === 0);
  if (same) {
    throw new BusinessError('UpgradePackageExists', `AppVersion: ${typeName[spec.packageType]} package version ${same} already exists; versions are unique per platform and distribution type.`);
  }
}

/** A link into this server's own storage (in any spelling of its origin) must come as an upload field (FileUrl ...), where it is checked and copied. */
function refuseOwnStore(ctx: ActionContext, field: string, url: string): void {
  if (url && ctx.deps.blobs.pointsInto(url)) {
    throw invalid(field, `${shown(url)} points into this server's storage; pass uploaded files as FileUrl (or IconFileUrl, IosSymbolfileUrl), which are checked and copied.`);
  }
}

/**
 * An upload's name as part of a stored key: an upload may be named up to 255 bytes, which with a prefix such
 * as "icon-" is more than a file system takes as one name; long names keep their start and their extension.
 */
function shortName(name: string, max = 120): string {
  if (Buffer.byteLength(name) <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : '';
  let head = name.slice(0, name.length - ext.length);
  while (Buffer.byteLength(head + ext) > max) head = head.slice(0, -1);
  return head + ext;
}

async function firstBytes(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function md5Of(path: string): Promise<string> {
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Creates an upgrade package. Every field and every upload is checked before
 * anything is written; uploaded files are copied under pkg/ (uploads expire)
 * with their md5 and size, each key claimed in the blob registry first and
 * committed in the transaction that inserts the package row; on failure the
 * copies are removed again (the janitor sweeps whatever a crash leaves).
 */
export async function createPackage(ctx: ActionContext, spec: PackageSpec): Promise<{ id: number }> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  refuseOwnStore(ctx, 'DownloadUrl', spec.downloadUrl);
  refuseOwnStore(ctx, 'AppstoreUrl', spec.appstoreUrl);
  refuseOwnStore(ctx, 'LargeIconUrl', spec.largeIconUrl);
  checkVersionFree(await versionsOf(knex, ctx, spec.platform, spec.packageType), spec);
  const maxBytes = deps.config.storage.uploadMaxBytes;
  const wanted: Array<{ url: string; kind: FileKind }> = [];
  if (spec.fileUrl) wanted.push({ url: spec.fileUrl, kind: kinds.package(spec, maxBytes) });
  if (spec.iconFileUrl) wanted.push({ url: spec.iconFileUrl, kind: kinds.icon(maxBytes) });
  if (spec.symbolFileUrl) wanted.push({ url: spec.symbolFileUrl, kind: kinds.symbol(maxBytes) });
  const uploads: Array<{ url: string; kind: FileKind; key: string; size: number; name: string }> = [];
  for (const w of wanted) {
    const obj = await resolveUploadedObject(deps, ctx, w.url, { maxBytes: w.kind.maxBytes, field: w.kind.field });
    const name = obj.key.slice(obj.key.lastIndexOf('/') + 1);
    if (!w.kind.extensions.some((e) => name.toLowerCase().endsWith(e))) {
      throw invalid(w.kind.field, `${shown(name)} is not ${w.kind.what}; the file name must end in ${w.kind.extensions.join(' or ')}.`);
    }
    uploads.push({ ...w, ...obj, name });
  }

  const now = deps.now();
  // app and workspace as separate segments, like offline packages (resource-service.ts packageKeys): both ids may hold "-"
  const dir = `pkg/${ctx.appId}/${ctx.workspaceId}/upgrade/${spec.platform.toLowerCase()}/${spec.appVersion}-${randomBytes(6).toString('hex')}`;
  const claimed: Reservation[] = [];
  const stored: Record<string, StoredFile> = {};
  try {
    await withWorkDir(deps, 'upgrade-', async (work) => {
      for (const [i, u] of uploads.entries()) {
        const path = join(work, String(i));
        // the size recorded is the size copied (the upload may have been replaced since it was checked)
        const size = await copyUploadedObject(deps, u, path, { maxBytes: u.kind.maxBytes, field: u.kind.field, fileUrl: u.url });
        const head = await firstBytes(path, 8);
        if (!u.kind.magic.some((m) => head.subarray(0, m.length).equals(m))) throw invalid(u.kind.field, `${shown(u.name)} is not ${u.kind.what}: its content does not match.`);
        await u.kind.check?.(path).catch((err: unknown) => {
          if (!(err instanceof PackageError)) throw err;
          throw invalid(u.kind.field, `${shown(u.name)} is not ${u.kind.what} that can be installed: ${err.message}`);
        });
        const md5 = await md5Of(path);
        const key = `${dir}/${u.kind.field === 'FileUrl' ? '' : u.kind.field === 'IconFileUrl' ? 'icon-' : 'symbol-'}${shortName(u.name)}`;
        const owner = await reserveBlob(knex, key, ctx.appId, ctx.workspaceId, now);
        if (owner === null) throw new Error(`object key ${key} is taken`);
        claimed.push({ key, owner });
        await deps.blobs.putFile(key, path, { contentType: 'application/octet-stream' });
        stored[u.kind.field] = { key, name: u.name, md5, size };
      }
    });
    const pkg = stored.FileUrl;
    const id = await knex.transaction(async (trx) => {
      // Packages of one app are created one at a time on PostgreSQL, so the version check below sees every committed package.
      if (dialect === 'pg') await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`upgrade:${ctx.appId}/${ctx.workspaceId}`]);
      checkVersionFree(await versionsOf(trx, ctx, spec.platform, spec.packageType), spec);
      const id = await insertPackage(trx, ctx, {
        platform: spec.platform,
        packageType: spec.packageType,
        appVersion: spec.appVersion,
        fileKey: pkg?.key ?? '',
        fileName: pkg?.name ?? '',
        md5: pkg?.md5 ?? '',
        fileSize: pkg?.size ?? 0,
        downloadUrl: spec.downloadUrl,
        appstoreUrl: spec.appstoreUrl,
        iconKey: stored.IconFileUrl?.key ?? '',
        largeIconUrl: spec.largeIconUrl,
        symbolKey: stored.IosSymbolfileUrl?.key ?? '',
        bundleId: spec.bundleId,
        harmonyLabel: spec.harmonyLabel,
        customDomainName: spec.customDomainName,
        description: spec.description,
        isEnterprise: spec.isEnterprise,
        needCheck: spec.needCheck,
        verificationCode: spec.needCheck ? String(randomInt(0, 1_000_000)).padStart(6, '0') : '',
        validDays: spec.validDays,
        installAmount: spec.installAmount,
        creator: ctx.accessKeyId,
        createdAt: now,
        modifiedAt: now,
      });
      for (const c of claimed) await commitBlob(trx, c.key, c.owner);
      return id;
    });
    return { id };
  } catch (err) {
    await removeClaimedBlobs(ctx, claimed);
    if (err instanceof ReservationLost) throw buildExpired();
    if (deps.db.isUniqueViolation(err)) checkVersionFree([spec.appVersion], spec);
    throw err;
  }
}

export function parsePackageId(field: string, raw: string | number | undefined): number {
  const v = String(raw ?? '').trim();
  if (v === '') throw invalid(field, 'is required: the id of the upgrade package.');
  if (!/^\d{1,16}$/.test(v) || Number(v) === 0 || !Number.isSafeInteger(Number(v))) throw invalid(field, `${shown(raw)} is not a package id.`);
  return Number(v);
}

export const packageNotFound = (field: string, id: number | string) =>
  new BusinessError('UpgradePackageNotFound', `${field}: no upgrade package ${id} in this app and workspace.`);

export async function mustGetPackage(ctx: ActionContext, field: string, raw: string | number | undefined): Promise<UpgradePackage> {
  const id = parsePackageId(field, raw);
  const p = await getPackage(ctx.deps.db.knex, ctx, id);
  if (!p) throw packageNotFound(field, id);
  return p;
}

export async function pageOfPackages(ctx: ActionContext, pageNum: number, pageSize: number): Promise<{ total: number; packages: UpgradePackage[]; openTasks: Map<number, TaskCounts> }> {
  const { knex } = ctx.deps.db;
  const { total, packages } = await listPackages(knex, ctx, (pageNum - 1) * pageSize, pageSize);
  return { total, packages, openTasks: await openTaskCounts(knex, ctx, packages.map((p) => p.id)) };
}

/**
 * Deletes an upgrade package with its release tasks (of any status) and its
 * stored files, in one transaction that also moves the delivery stamp: from
 * the commit on, no device is offered the package. The API has no action
 * that ends an upgrade task, so refusing packages with unfinished tasks would
 * make them undeletable; this follows DeleteMcubeNebulaApp instead (the guide:
 * "all the offline packages and resource files of the app will be deleted").
 * Platform, when given, must be the package's.
 */
export async function deletePackage(ctx: ActionContext, input: { id?: string; platform?: string }): Promise<{ endedTasks: number }> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  const id = parsePackageId('Id', input.id);
  const platform = (input.platform ?? '').trim();
  const { keys, endedTasks } = await knex.transaction(async (trx) => {
    const p = await getPackage(trx, ctx, id, dialect === 'pg');
    if (!p) throw packageNotFound('Id', id);
    if (platform && platform.toLowerCase() !== p.platform.toLowerCase()) throw invalid('Platform', `${shown(platform)} is not the platform of package ${id} (${p.platform}).`);
    const endedTasks = (await listTasks(trx, ctx, id)).filter((t) => t.taskStatus !== 2).length;
    await deletePackageCascade(trx, dialect, ctx, id);
    const keys = [p.fileKey, p.iconKey, p.symbolKey].filter((k) => k !== '');
    await dropBlobs(trx, keys, deps.now());
    await bumpStamp(trx, dialect, ctx.appId, ctx.workspaceId);
    return { keys, endedTasks };
  });
  deps.onDeliveryChange(ctx.appId, ctx.workspaceId);
  await removeDroppedBlobs(ctx, keys);
  return { endedTasks };
}
