import { formatDateTime } from '../../core/ids.js';
import type { ActionContext } from '../../core/registry.js';
import { S } from '../../core/schema.js';
import { MAX_OPEN_TASKS } from '../nebula/task-service.js';
import { appCodeOf } from '../nebula/resource-wire.js';
import { downloadGateUrl } from './download-gate.js';
import type { UpgradePackage } from './upgrade-types.js';
import type { TaskCounts } from './upgrade-store.js';

const INT32_MAX = 2147483647;

/** ListMcubeUpgradePackages items and GetMcubeUpgradePackageInfo's UpgradeBaseInfoDO (reference §4.B.2, §4.B.3). */
export const packageInfoSchema = S.obj({
  AllowCreateTask: S.bool('false once the package has 10 unfinished tasks'),
  AppCode: S.str('appId-workspaceId'),
  AppstoreUrl: S.str('App Store address, or the TestFlight public link'),
  BackLog: S.str(),
  ChangeLog: S.str('the release description (Desc)'),
  ClientFileSize: S.int32('size of the uploaded package in bytes (0 for links)'),
  ClientName: S.str('BundleId (iOS) or HarmonyLabel (Harmony)'),
  CpId: S.str(),
  Creator: S.str('AccessKey id that created the package'),
  DownloadUrl: S.str('where devices get this version: the stored file (signed address), the DownloadUrl given, or the AppstoreUrl'),
  GlobalVariables: S.str(),
  GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtCreateStr: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModifiedStr: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  Id: S.int64('package id'),
  InnerVersion: S.str('the AppVersion'),
  IosSymbol: S.str('address of the stored symbol table (.tgz), iOS'),
  IsEnterprise: S.int32('1 iOS enterprise distribution'),
  IsRc: S.int32(),
  IsRelease: S.int32('1 while a task releases the package'),
  MaxVersion: S.str(),
  Md5: S.str('md5 of the uploaded package ("" for links)'),
  Modifier: S.str(),
  NeedCheck: S.int32('1 download verification'),
  OssPath: S.str('storage key of the package file'),
  PackageType: S.str('apk, hap, enterprise, appstore or testflight'),
  Platform: S.str('Android, iOS or Harmony'),
  ProductId: S.str('appId-workspaceId'),
  ProductName: S.str(),
  ProductVersion: S.str('the AppVersion'),
  PublishPeriod: S.int32('0 to be released, 1 whitelist gray, 2 time-window gray, 3 official, 5 finished'),
  QrcodeUrl: S.str('the address a download QR code encodes (downloadable packages); with NeedCheck 1 a page of this service that asks for VerificationCode, then redirects to the file'),
  ReleaseType: S.str('the distribution type, as PackageType'),
  ReleaseWindow: S.str(),
  ScmDownloadUrl: S.str(),
  ServerVersion: S.int32(),
  VerificationCode: S.str('code asked before download when NeedCheck is 1'),
  VerifyResult: S.int32(),
  VersionCode: S.str(),
});

export const testFlightSchema = S.obj({
  GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  Id: S.int64(),
  InstallAmount: S.int32('tester limit'),
  InvalidTime: S.str('when the build expires: creation + ValidDays, yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  UpgradeId: S.int64('the package id'),
});

/** Where devices get the package: our stored copy (signed address), the link given, or the App Store / TestFlight link. */
export async function deliveryUrlOf(ctx: Pick<ActionContext, 'deps'>, p: UpgradePackage): Promise<string> {
  if (p.fileKey) return ctx.deps.blobs.downloadUrl(p.fileKey);
  return p.downloadUrl || p.appstoreUrl;
}

export async function toPackageInfo(ctx: ActionContext, p: UpgradePackage, tasks: TaskCounts = { open: 0, releasing: 0 }): Promise<Record<string, unknown>> {
  const url = await deliveryUrlOf(ctx, p);
  const downloadable = p.packageType === 'apk' || p.packageType === 'hap' || p.packageType === 'enterprise';
  return {
    AllowCreateTask: tasks.open < MAX_OPEN_TASKS,
    AppCode: appCodeOf(ctx),
    AppstoreUrl: p.appstoreUrl,
    BackLog: '',
    ChangeLog: p.description,
    ClientFileSize: Math.min(p.fileSize, INT32_MAX),
    ClientName: p.bundleId || p.harmonyLabel,
    CpId: '',
    Creator: p.creator,
    DownloadUrl: url,
    GlobalVariables: '',
    GmtCreate: formatDateTime(p.createdAt),
    GmtCreateStr: formatDateTime(p.createdAt),
    GmtModified: formatDateTime(p.modifiedAt),
    GmtModifiedStr: formatDateTime(p.modifiedAt),
    Id: p.id,
    InnerVersion: p.appVersion,
    IosSymbol: p.symbolKey ? await ctx.deps.blobs.downloadUrl(p.symbolKey) : '',
    IsEnterprise: p.isEnterprise,
    IsRc: 0,
    // releasing now: a paused release keeps its publish period but releases nothing
    IsRelease: tasks.releasing > 0 ? 1 : 0,
    MaxVersion: '',
    Md5: p.md5,
    Modifier: '',
    NeedCheck: p.needCheck,
    OssPath: p.fileKey,
    PackageType: p.packageType,
    Platform: p.platform,
    ProductId: appCodeOf(ctx),
    ProductName: '',
    ProductVersion: p.appVersion,
    PublishPeriod: p.publishPeriod,
    // a package with download verification: its QR code opens the page that asks for the code
    QrcodeUrl: !downloadable ? '' : p.needCheck === 1 ? downloadGateUrl(ctx.deps.config, ctx, p.id) : url,
    ReleaseType: p.packageType,
    ReleaseWindow: '',
    ScmDownloadUrl: '',
    ServerVersion: 0,
    VerificationCode: p.verificationCode,
    VerifyResult: 0,
    VersionCode: '',
  };
}

export function toTestFlight(p: UpgradePackage): Record<string, unknown> | undefined {
  if (p.packageType !== 'testflight') return undefined;
  return {
    GmtCreate: formatDateTime(p.createdAt),
    GmtModified: formatDateTime(p.modifiedAt),
    Id: p.id,
    InstallAmount: p.installAmount,
    InvalidTime: formatDateTime(p.createdAt + p.validDays * 86_400_000),
    UpgradeId: p.id,
  };
}
