import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BusinessError } from '../../core/errors.js';
import { releaseVersionOf } from '../../core/ids.js';
import type { ActionContext } from '../../core/registry.js';
import { commitBlob, ReservationLost, reserveBlob } from '../../db/blob-registry.js';
import { insertThenFind } from '../../db/insert-then-find.js';
import { bumpStamp } from '../../db/stamps.js';
import { buildAmr, forEachPackageFile, h5Json, h5JsonEntry, packageFileContentType, type BuildAmrInput } from '../packages/index.js';
import { buildExpired, copyUploadedObject, publicFolderUrl, removeClaimedBlobs, resolveUploadedObject, type Reservation } from '../storage/index.js';
import { findApp, forgetRemovedApp, getRsaKeyRow, getVhost, insertAppIfMissing, insertResource, listVersions, setAppResourceType } from './nebula-store.js';
import type { Scope } from './nebula-types.js';
import { asBusiness } from './package-errors.js';
import { loadPrivateKey } from './rsa-key-service.js';
import { invalid } from './rules/field-error.js';
import type { ResourceSpec } from './rules/resource-fields.js';
import { compareVersions } from './rules/version.js';
import { withWorkDir } from './work-dir.js';

type Built = Awaited<ReturnType<typeof buildAmr>>;

/**
 * Storage keys of a package build: the vendor's `<version>_all/nebula/<id>_<version>.amr`
 * tail, under a folder of this build. App and workspace are separate path segments: ids
 * may contain "-", so "<app>-<workspace>" was ambiguous (SHOP-prod + eu and SHOP +
 * prod-eu, two tenants, claimed the same keys). A key is never written twice, so a build
 * the janitor gave up on (it outlasted the grace period) cannot overwrite a later build
 * of the same version, and a version deleted and published again gets new links (a CDN
 * in front keeps no stale copy). Keys already stored in rows stay as they are. The
 * janitor finds the fallback folder of a stored file by this layout (folderOf in
 * db/blob-registry.ts): change both together.
 */
export function packageKeys(s: Scope, spec: Pick<ResourceSpec, 'h5Id' | 'h5Version' | 'platform'>, build: string): { amrKey: string; jsonKey: string; fallbackDir: string } {
  const dir = `pkg/${s.appId}/${s.workspaceId}/${spec.h5Id}/${build}/${spec.h5Version}_${spec.platform.toLowerCase()}/nebula`;
  return { amrKey: `${dir}/${spec.h5Id}_${spec.h5Version}.amr`, jsonKey: `${dir}/${spec.h5Id}_${spec.h5Version}.json`, fallbackDir: `${dir}/fallback/` };
}

/** nebula_resources.vhost */
export const MAX_SERVED_VHOST = 255;

/**
 * The vhost a package's files are served under, as h5.json carries it: a
 * value with a scheme is taken as it is; a bare domain (what CreateMcubeVhost
 * stores, e.g. h5app.com) becomes https://<h5Id>.<domain>, as in console exports.
 */
export function servedVhost(domain: string, h5Id: string): string {
  if (/^https?:\/\//i.test(domain)) return domain.replace(/\/+$/, '');
  return `https://${h5Id}.${domain.replace(/\/+$/, '')}`;
}

const typeName = (t: number) => (t === 0 ? 'global resource packages (0)' : 'normal packages (1)');

/** Refuses a version equal (as a version: 1.0 = 1.0.0) to one the H5 app already has. */
function checkVersionFree(versions: Array<{ h5Version: string }>, spec: ResourceSpec): void {
  const same = versions.find((v) => compareVersions(v.h5Version, spec.h5Version) === 0);
  if (same) throw new BusinessError('H5VersionExists', `H5Version: version ${same.h5Version} of H5 app ${spec.h5Id} already exists; versions are unique within an H5 app.`);
}

function checkTypeFits(appType: number | null, spec: ResourceSpec): void {
  if (appType !== null && appType !== spec.resourceType) {
    throw new BusinessError('ResourceTypeMismatch', `ResourceType: H5 app ${spec.h5Id} holds ${typeName(appType)}; it cannot take ${typeName(spec.resourceType)}.`);
  }
}

/** The path of MainUrl as a tar entry (the id's top folder is stripped from the upload; a mini program's "#page" is not part of the file). */
function packageHasFile(entries: string[], mainUrl: string): boolean {
  return entries.includes(mainUrl.replace(/#.*$/, '').replace(/^\/+/, ''));
}

/** Guide §5.2: "The absolute length of the public resource cannot exceed 100 characters, otherwise the client might fail to load the resource" */
export const MAX_GLOBAL_URL = 100;

/**
 * Creates an offline package from an uploaded .zip. Crash-safe: every field
 * is checked before anything is touched; the two objects (.amr and h5.json)
 * are claimed in the blob registry before they are written and committed in
 * the transaction that inserts the package row; on failure the written
 * objects are removed again (the janitor sweeps whatever a crash leaves).
 */
/**
 * `signed`: false when no RSA key was uploaded and the package was built with
 * empty signatures. `nonAscii`: paths with characters beyond ASCII, which
 * Nebula's Android tar reader garbles (it widens each byte on its own), so those
 * files cannot be loaded on Android; no encoding mcube could choose helps.
 * `longUrls`: a global package's files whose address (https://<path>) is longer
 * than the 100 characters the guide allows public resources.
 */
export async function createResource(
  ctx: ActionContext,
  spec: ResourceSpec,
): Promise<{ id: number; signed: boolean; nonAscii: string[]; longUrls: string[]; earlierVhost: string | null }> {
  const { deps } = ctx;
  const { knex } = deps.db;
  const app = await findApp(knex, ctx, spec.h5Id);
  checkTypeFits(app?.resourceType ?? null, spec);
  checkVersionFree(await listVersions(knex, ctx, spec.h5Id), spec);
  const domain = spec.vhost || (await getVhost(knex, ctx));
  if (!domain) throw new BusinessError('VhostNotConfigured', 'Vhost: no virtual domain is given and none is configured; set one with CreateMcubeVhost first.');
  const vhost = servedVhost(domain, spec.h5Id);
  // the column holds 255: a domain near the limit of CreateMcubeVhost leaves no room for https://<id>.
  if (vhost.length > MAX_SERVED_VHOST) {
    throw new BusinessError('InvalidVhost', `Vhost: the served address ${vhost.slice(0, 40)}... would be ${vhost.length} characters, more than the ${MAX_SERVED_VHOST} allowed; use a shorter domain.`);
  }
  // the pages' origin: a version served under another domain than the app's earlier ones loses their local storage
  // and cookies, and their absolute links point elsewhere (said, not refused: moving a domain is legitimate)
  const latest = await knex('nebula_resources').where({ app_id: ctx.appId, workspace_id: ctx.workspaceId, h5_id: spec.h5Id }).orderBy('id', 'desc').first('vhost');
  const earlierVhost = latest && latest.vhost && latest.vhost !== vhost ? String(latest.vhost) : null;
  const h5Name = app?.h5Name ?? (spec.h5Name || spec.h5Id);
  const maxBytes = deps.config.storage.uploadMaxBytes;
  const upload = await resolveUploadedObject(deps, ctx, spec.fileUrl, { maxBytes, field: spec.fileField });
  const signing = await loadPrivateKey(ctx);
  const privateKey = signing?.privateKey ?? null;

  let nonAscii: string[] = [];
  let longUrls: string[] = [];
  const id = await withWorkDir(deps, 'nebula-', async (dir) => {
    const zipPath = join(dir, 'upload.zip');
    await copyUploadedObject(deps, upload, zipPath, { maxBytes, fileUrl: spec.fileUrl, field: spec.fileField });
    const source = {
      zipPath,
      h5Id: spec.h5Id,
      version: spec.h5Version,
      resourceType: spec.resourceType,
      appId: ctx.appId,
      workspaceId: ctx.workspaceId,
      limits: { maxEntries: deps.config.packages.maxEntries, maxTotalBytes: deps.config.packages.maxTotalBytes, maxRatio: deps.config.packages.maxRatio },
    };
    const built = await asBusiness(`${spec.fileField} is not a usable ${spec.mini ? 'mini program' : 'offline'} package`, () => buildAmr({ ...source, privateKey, workDir: dir }));
    try {
      if (spec.resourceType === 1 && spec.mainUrl && !packageHasFile(built.entries, spec.mainUrl)) {
        throw invalid('MainUrl', `${spec.mainUrl} is not a file of the uploaded package (expected ${spec.h5Id}${spec.mainUrl.replace(/#.*$/, '')} in the .zip).`);
      }
      nonAscii = built.entries.filter((e) => /[^\x00-\x7f]/.test(e));
      if (spec.resourceType === 0) longUrls = built.entries.filter((e) => !e.endsWith('/') && e.includes('/') && `https://${e}`.length > MAX_GLOBAL_URL);
      return await storePackage(ctx, spec, { vhost, h5Name, signedWith: signing?.publicKeyPem ?? null, source }, built);
    } finally {
      await built.cleanup().catch(() => {});
    }
  });
  deps.onDeliveryChange(ctx.appId, ctx.workspaceId);
  return { id, signed: privateKey !== null, nonAscii, longUrls, earlierVhost };
}

type PackageSource = Omit<BuildAmrInput, 'privateKey' | 'workDir'>;

/** Whether a package gets an unpacked fallback copy: normal packages, when a download base gives the copy one address (MCUBE_PACKAGE_FALLBACK). */
function publishesFallback(ctx: ActionContext, spec: ResourceSpec): boolean {
  const { config } = ctx.deps;
  return spec.resourceType === 1 && config.packages.fallback && !!config.storage.downloadBaseUrl;
}

/** Files stored at once while a fallback copy is written, and the largest held in memory for that; larger ones are streamed one at a time. */
const FALLBACK_UPLOADS = 16;
const FALLBACK_BUFFERED_BYTES = 1024 * 1024;

/** Writes the package's files unpacked under `dir` (the fallback copy). */
async function storeFallback(ctx: ActionContext, source: PackageSource, dir: string): Promise<void> {
  const { blobs } = ctx.deps;
  const writing = new Set<Promise<void>>();
  let failed: unknown = null;
  try {
    await forEachPackageFile(source, async (path, size, chunks) => {
      if (failed !== null) throw failed;
      const contentType = packageFileContentType(path);
      if (size > FALLBACK_BUFFERED_BYTES) return blobs.put(dir + path, Readable.from(chunks), { contentType, size });
      // entries are read from the zip one after another; small ones are read whole so their writes overlap
      const parts: Buffer[] = [];
      for await (const c of chunks) parts.push(c);
      const w = blobs.put(dir + path, Buffer.concat(parts, size), { contentType, size }).then(
        () => void writing.delete(w),
        (e: unknown) => {
          writing.delete(w);
          failed ??= e;
        },
      );
      writing.add(w);
      if (writing.size >= FALLBACK_UPLOADS) await Promise.race(writing);
    });
  } finally {
    // also when the walk fails: the caller removes the folder by listing it, which must come after the last write
    await Promise.all(writing);
  }
  if (failed !== null) throw failed;
}

async function storePackage(ctx: ActionContext, spec: ResourceSpec, meta: { vhost: string; h5Name: string; signedWith: string | null; source: PackageSource }, built: Built): Promise<number> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  const { amrKey, jsonKey, fallbackDir } = packageKeys(ctx, spec, randomBytes(6).toString('hex'));
  const fallbackKey = publishesFallback(ctx, spec) ? fallbackDir : null;
  const now = deps.now();
  const claimed: Reservation[] = [];
  try {
    for (const key of fallbackKey ? [amrKey, jsonKey, fallbackKey] : [amrKey, jsonKey]) {
      const owner = await reserveBlob(knex, key, ctx.appId, ctx.workspaceId, now);
      if (owner === null) throw new Error(`object key ${key} is taken`);
      claimed.push({ key, owner });
    }
    await deps.blobs.putFile(amrKey, built.amrPath, { contentType: 'application/octet-stream' });
    if (fallbackKey) await storeFallback(ctx, meta.source, fallbackKey);
    const samplePackUrl = spec.resourceType === 0 && built.firstFile ? globalPackUrl(built.firstFile) : null;
    const entry = h5JsonEntry({
      h5Id: spec.h5Id,
      h5Name: meta.h5Name,
      version: spec.h5Version,
      packageUrl: await deps.blobs.downloadUrl(amrKey),
      fallbackBaseUrl: publicFolderUrl(deps.config.storage.downloadBaseUrl, fallbackKey),
      mainUrl: spec.mainUrl,
      vhost: meta.vhost,
      autoInstall: spec.autoInstall,
      installType: spec.installType,
      extendInfo: spec.extendInfo,
      subUrl: spec.subUrl,
      resourceType: spec.resourceType,
      globalPackUrl: samplePackUrl ?? undefined,
    });
    await deps.blobs.put(jsonKey, Buffer.from(JSON.stringify(h5Json([entry]))), { contentType: 'application/json' });
    return await knex.transaction(async (trx) => {
      // The key may have been replaced while the package was built: clients holding the new public key would
      // refuse a package signed with the old one. PostgreSQL: FOR SHARE holds a replacement back until this commits.
      const key = await getRsaKeyRow(trx, ctx, dialect === 'pg');
      if ((key?.publicKeyPem ?? null) !== meta.signedWith) {
        throw new BusinessError('RsaKeyChanged', 'The RSA key of this workspace was replaced while the package was being built; publish it again to sign it with the new key.');
      }
      // Locks the H5 app row on PostgreSQL so packages of one H5 app are created one at a time.
      const app = await insertThenFind(
        () => insertAppIfMissing(trx, ctx, spec.h5Id, meta.h5Name, now),
        () => findApp(trx, ctx, spec.h5Id, dialect === 'pg'),
      );
      if (!app) throw new BusinessError('ConcurrentChange', `H5Id: H5 app ${spec.h5Id} was deleted and re-created meanwhile; retry.`);
      checkTypeFits(app.resourceType, spec);
      if (app.resourceType === null) await setAppResourceType(trx, ctx, spec.h5Id, spec.resourceType);
      checkVersionFree(await listVersions(trx, ctx, spec.h5Id), spec);
      const id = await insertResource(trx, ctx, {
        h5Id: spec.h5Id,
        h5Name: app.h5Name,
        h5Version: spec.h5Version,
        resourceType: spec.resourceType,
        packageType: spec.mini?.packageType ?? null,
        miniInfo: spec.mini?.info ?? null,
        platform: spec.platform,
        clientVersionMin: spec.clientVersionMin,
        clientVersionMax: spec.clientVersionMax,
        mainUrl: spec.mainUrl,
        subUrl: spec.subUrl,
        vhost: meta.vhost,
        customDomainName: spec.customDomainName,
        extendInfo: spec.extendInfo,
        autoInstall: spec.autoInstall,
        installType: spec.installType,
        repeatNebula: spec.repeatNebula,
        amrKey,
        jsonKey,
        fallbackKey,
        globalPackUrl: samplePackUrl,
        md5: built.md5,
        fileSize: built.size,
        releaseVersion: releaseVersionOf(now),
        createdAt: now,
        modifiedAt: now,
      });
      await forgetRemovedApp(trx, ctx, spec.h5Id);
      for (const c of claimed) await commitBlob(trx, c.key, c.owner);
      await bumpStamp(trx, dialect, ctx.appId, ctx.workspaceId);
      return id;
    });
  } catch (err) {
    await removeClaimedBlobs(ctx, claimed);
    if (err instanceof ReservationLost) throw buildExpired();
    if (deps.db.isUniqueViolation(err)) {
      throw new BusinessError('H5VersionExists', `H5Version: version ${spec.h5Version} of H5 app ${spec.h5Id} already exists.`);
    }
    throw err;
  }
}

/** `https://<domain>/<path>` of a global package's first file; the path percent-encoded segment by segment (the domain folder is a host name). */
function globalPackUrl(firstFile: string): string {
  const [domain, ...path] = firstFile.split('/');
  return `https://${domain}/${path.map(encodeURIComponent).join('/')}`;
}
