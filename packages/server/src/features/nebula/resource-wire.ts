import { formatDateTime } from '../../core/ids.js';
import type { ActionContext } from '../../core/registry.js';
import { S } from '../../core/schema.js';
import type { NebulaResource, Scope } from './nebula-types.js';
import { publicFolderUrl } from '../storage/index.js';

export const appCodeOf = (s: Scope) => `${s.appId}-${s.workspaceId}`;

/** ListMcubeNebulaResources items and GetMcubeNebulaResource's NebulaResourceInfo (vendor wire names and types). */
export const resourceInfoSchema = S.obj({
  AppCode: S.str('appId-workspaceId'),
  AutoInstall: S.int32('0 Wi-Fi only, 1 any network'),
  ClientVersionMax: S.str('"ios;android"'),
  ClientVersionMin: S.str('"ios;android"'),
  Creator: S.str(),
  DebugUrl: S.str(),
  DownloadUrl: S.str('address of the .amr file'),
  ExtendInfo: S.str(),
  ExtraData: S.str('JSON text, e.g. {"resourceType":"1"}'),
  FallbackBaseUrl: S.str('"<intranet>;<internet>" address of the package\'s unpacked copy (MCUBE_PACKAGE_FALLBACK), or empty'),
  FileSize: S.str('size of the .amr in bytes'),
  GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  H5Id: S.str(),
  H5Name: S.str(),
  H5Version: S.str(),
  Id: S.int64('package id (NebulaResourceId)'),
  InstallType: S.int32('0 install on first use, 1 preload'),
  LazyLoad: S.int32(),
  MainUrl: S.str(),
  Md5: S.str('md5 of the .amr'),
  Memo: S.str('address of the package\'s h5.json'),
  MetaId: S.int64(),
  Modifier: S.str(),
  PackageType: S.int32(),
  Platform: S.str('all, Android or iOS'),
  PublishPeriod: S.int32('0 initial, 1 whitelist gray, 2 gray, 3 official, 4 rollback, 5 finished'),
  ReleaseVersion: S.str(),
  ResourceType: S.str('"0" global resource package, "1" normal package (a string here)'),
  Status: S.int32(),
  Vhost: S.str(),
});

export async function toResourceInfo(ctx: ActionContext, r: NebulaResource): Promise<Record<string, unknown>> {
  const [downloadUrl, jsonUrl] = await Promise.all([ctx.deps.blobs.downloadUrl(r.amrKey), ctx.deps.blobs.downloadUrl(r.jsonKey)]);
  // the guide: "<intranet address>;<internet address>", one and the same address here
  const fallback = publicFolderUrl(ctx.deps.config.storage.downloadBaseUrl, r.fallbackKey);
  return {
    AppCode: appCodeOf(ctx),
    AutoInstall: r.autoInstall,
    ClientVersionMax: r.clientVersionMax,
    ClientVersionMin: r.clientVersionMin,
    Creator: '',
    DebugUrl: '',
    DownloadUrl: downloadUrl,
    ExtendInfo: r.extendInfo,
    ExtraData: JSON.stringify({ resourceType: String(r.resourceType) }),
    FallbackBaseUrl: fallback ? `${fallback};${fallback}` : '',
    FileSize: String(r.fileSize),
    GmtCreate: formatDateTime(r.createdAt),
    GmtModified: formatDateTime(r.modifiedAt),
    H5Id: r.h5Id,
    H5Name: r.h5Name,
    H5Version: r.h5Version,
    Id: r.id,
    InstallType: r.installType,
    LazyLoad: 0,
    MainUrl: r.mainUrl,
    Md5: r.md5,
    Memo: jsonUrl,
    MetaId: 0,
    Modifier: '',
    PackageType: 0,
    Platform: r.platform,
    PublishPeriod: r.publishPeriod,
    ReleaseVersion: r.releaseVersion,
    ResourceType: String(r.resourceType),
    Status: 1,
    Vhost: r.vhost,
  };
}
