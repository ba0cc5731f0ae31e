import { formatDateTime } from '../../core/ids.js';
import type { ActionContext } from '../../core/registry.js';
import { S, type JsonSchema } from '../../core/schema.js';
import { parseGreyConfig, toRuleJsonList, type GreyRule } from '../nebula/rules/grey-config.js';
import { downloadGateUrl } from './download-gate.js';
import { appCodeOf } from '../nebula/resource-wire.js';
import { deliveryUrlOf } from './package-wire.js';
import type { UpgradePackage, UpgradeTask } from './upgrade-types.js';

export interface WhitelistRef {
  id: number;
  name: string;
  type: string;
  entryCount: number;
  modifiedAt: number;
}

const ruleJsonList = S.arr(
  S.obj({
    Operation: S.str('1 include, 2 exclude, 3 within range, 4 out of range'),
    RuleElement: S.str('city, mobileModel, netType, osVersion or clientVersion'),
    RuleType: S.str('contains, excludes, vLimitIn or vLimitOut'),
    Value: S.str('comma-separated values, or "lower-upper" for ranges'),
  }),
);

const time = () => S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)');

/** ListMcubeUpgradeTasks items (reference §4.B.6). */
export const taskListItemSchema = S.obj({
  AppCode: S.str('appId-workspaceId'),
  Creator: S.str('AccessKey id that created the task'),
  DevicePercent: S.int32(),
  ExecutionOrder: S.int32(),
  GmtCreate: time(),
  GmtCreateStr: time(),
  GmtModified: time(),
  GmtModifiedStr: time(),
  GreyConfigInfo: S.str('advanced rules, the JSON text as given'),
  GreyEndtime: S.str('end of the time window, yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GreyNotice: S.int32(),
  GreyNum: S.int32('users a time-window task admits'),
  GreyPausePoint: S.int32(),
  GreyPauseType: S.int32(),
  GreyUv: S.int32('users admitted so far (time window)'),
  HistoryForce: S.int32('0/1 as given'),
  HuobanNoticeId: S.str(),
  HuobanUrl: S.str(),
  Id: S.int64('task id'),
  InnerVersion: S.str('package version'),
  IsEnterprise: S.int32(),
  IsOfficial: S.int32('1 official release'),
  IsPush: S.int32(),
  IsRelease: S.int32('1 releasing'),
  MaxVersion: S.str(),
  Memo: S.str(),
  Modifier: S.str(),
  PackageInfoId: S.int64('package id'),
  Platform: S.str('Android, iOS or Harmony'),
  ProductId: S.str('appId-workspaceId'),
  ProductVersion: S.str('package version'),
  PublishMode: S.int32('1 whitelist, 2 time window, 4 official'),
  PublishType: S.int32('2 gray, 3 official'),
  PushContent: S.str('the upgrade prompt (UpgradeContent)'),
  RealGreyEndtime: time(),
  RealGreyEndtimeStr: time(),
  RealGreyEndtype: S.int32(),
  RealGreyNum: S.int32('users admitted so far (time window)'),
  RealGreyUv: S.int32('users admitted so far (time window)'),
  SilentType: S.int32(),
  SyncResult: S.str(),
  TaskStatus: S.int32('1 releasing (upgrade tasks start releasing; the API has no status change)'),
  UpgradeContent: S.str('upgrade prompt message'),
  UpgradeType: S.int32('202 single reminder, 204 multiple reminders, 206 forced upgrade'),
  UpgradeValidTime: S.int32(),
  WhitelistIds: S.str('comma-separated whitelist ids'),
});

/** GetMcubeUpgradeTaskInfo's TaskInfo (reference §4.B.7; both Creater and Creator). */
export const taskInfoSchema = S.obj({
  AppCode: S.str('appId-workspaceId'),
  AppId: S.str(),
  AppstoreUrl: S.str(),
  Creater: S.str('same as Creator (the vendor carries both spellings)'),
  Creator: S.str(),
  DownloadUrl: S.str('where devices get this version'),
  GreyConfigInfo: S.str(),
  GreyEndtimeData: time(),
  GreyNum: S.int32(),
  HistoryForce: S.int32(),
  Id: S.int64(),
  IsEnterprise: S.int32(),
  IsOfficial: S.int32(),
  IsRc: S.int32(),
  IsRelease: S.int32(),
  Memo: S.str(),
  Modifier: S.str(),
  NetType: S.str('networks of the netType include rule'),
  OsVersion: S.str('OS versions or range of the osVersion rule'),
  PackageInfoId: S.int64(),
  PackageType: S.str('apk, hap, enterprise, appstore or testflight'),
  Platform: S.str(),
  ProductId: S.str(),
  PublishMode: S.int32(),
  PublishType: S.int32(),
  PushContent: S.str(),
  QrcodeUrl: S.str(),
  RuleJsonList: ruleJsonList,
  SilentType: S.int32(),
  TaskStatus: S.int32(),
  UpgradeContent: S.str(),
  UpgradeType: S.int32(),
  UpgradeValidTime: S.int32(),
  Whitelist: S.arr(
    S.obj({
      AppCode: S.str(),
      Id: S.int64(),
      IdType: S.str('userId'),
      Platform: S.str(),
      Status: S.int32(),
      UserType: S.str(),
      WhiteListCount: S.int64(),
      WhiteListName: S.str(),
      WhitelistType: S.str('normal or regex'),
    }),
  ),
  WhitelistIds: S.str(),
  WorkspaceId: S.str(),
});

/** The same schema with every integer widened to int64, as QueryMdsUpgradeTaskDetail types them (quirk 7). */
function int64Everywhere(schema: JsonSchema): JsonSchema {
  if (schema.type === 'integer') return { ...S.int64(schema.description as string | undefined), minimum: (schema.minimum as number) ?? 0 };
  if (schema.type === 'object') return { ...schema, properties: Object.fromEntries(Object.entries(schema.properties as Record<string, JsonSchema>).map(([k, v]) => [k, int64Everywhere(v)])) };
  if (schema.type === 'array') return { ...schema, items: int64Everywhere(schema.items as JsonSchema) };
  return schema;
}

/** QueryMdsUpgradeTaskDetail's ResultContent.Data.Content (reference §4.B.8; "Appstoreurl" spelt so). */
export const mdsTaskContentSchema = int64Everywhere(
  S.obj({
    AppCode: S.str(),
    AppId: S.str(),
    Appstoreurl: S.str('App Store address (spelt Appstoreurl here, AppstoreUrl elsewhere)'),
    ChannelContains: S.str(),
    ChannelExcludes: S.str(),
    CityContains: S.str('cities of the city include rule'),
    CityExcludes: S.str('cities of the city exclude rule'),
    Creator: S.str(),
    DeviceGreyNum: S.int32(),
    DevicePercent: S.int32(),
    DownloadUrl: S.str(),
    ExecutionOrder: S.int32(),
    GmtCreateStr: time(),
    GreyConfigInfo: S.str(),
    GreyEndtimeData: time(),
    GreyNotice: S.int32(),
    GreyNum: S.int32(),
    GreyUv: S.int32('users admitted so far (time window)'),
    Id: S.int64(),
    InnerVersion: S.str(),
    IsEnterprise: S.int32(),
    IsOfficial: S.int32(),
    IsPush: S.int32(),
    IsRc: S.int32(),
    IsRelease: S.int32(),
    Memo: S.str(),
    MobileModelContains: S.str('models of the mobileModel include rule'),
    MobileModelExcludes: S.str('models of the mobileModel exclude rule'),
    Modifier: S.str(),
    NetType: S.str(),
    OsVersion: S.str(),
    PackageInfoId: S.int64(),
    PackageType: S.str(),
    Platform: S.str(),
    ProductId: S.str(),
    ProductVersion: S.str(),
    PublishMode: S.int32(),
    PublishType: S.int32(),
    PushContent: S.str(),
    QrcodeUrl: S.str(),
    ReleaseType: S.str(),
    RuleJsonList: ruleJsonList,
    SilentType: S.int32(),
    SyncMode: S.str(),
    SyncResult: S.str(),
    TaskStatus: S.int32(),
    UpgradeContent: S.str(),
    UpgradeType: S.int32(),
    UpgradeValidTime: S.int32(),
    Whitelist: S.arr(
      S.obj({
        AppCode: S.str(),
        Business: S.str('always upgrade'),
        GmtModified: time(),
        Id: S.int64(),
        IdType: S.str('userId'),
        Platform: S.str(),
        Status: S.int32(),
        WhiteListCount: S.int64(),
        WhiteListName: S.str(),
      }),
    ),
    WhitelistIds: S.str(),
  }),
);

/** Values of the rules on one element with one operation, comma-joined ('' when none). */
function ruleValues(rules: GreyRule[], element: string, operation: number): string {
  return rules
    .filter((r) => r.ruleElement === element && r.operation === operation)
    .map((r) => ('values' in r ? r.values.join(',') : `${r.lower}-${r.upper}`))
    .join(',');
}

function osVersionOf(rules: GreyRule[]): string {
  return rules
    .filter((r) => r.ruleElement === 'osVersion')
    .map((r) => ('values' in r ? r.values.join(',') : `${r.lower}-${r.upper}`))
    .join(',');
}

export function toTaskListItem(ctx: ActionContext, t: UpgradeTask, p: UpgradePackage): Record<string, unknown> {
  const end = formatDateTime(t.greyEndtime);
  return {
    AppCode: appCodeOf(ctx),
    Creator: t.creator,
    DevicePercent: 0,
    ExecutionOrder: 0,
    GmtCreate: formatDateTime(t.createdAt),
    GmtCreateStr: formatDateTime(t.createdAt),
    GmtModified: formatDateTime(t.modifiedAt),
    GmtModifiedStr: formatDateTime(t.modifiedAt),
    GreyConfigInfo: t.greyConfigInfo,
    GreyEndtime: end,
    GreyNotice: 0,
    GreyNum: t.greyNum,
    GreyPausePoint: 0,
    GreyPauseType: 0,
    GreyUv: t.greyAdmitted,
    HistoryForce: t.historyForce,
    HuobanNoticeId: '',
    HuobanUrl: '',
    Id: t.id,
    InnerVersion: p.appVersion,
    IsEnterprise: p.isEnterprise,
    IsOfficial: t.publishType === 3 ? 1 : 0,
    IsPush: 0,
    IsRelease: t.taskStatus === 1 ? 1 : 0,
    MaxVersion: '',
    Memo: t.memo,
    Modifier: '',
    PackageInfoId: t.packageId,
    Platform: t.platform,
    ProductId: appCodeOf(ctx),
    ProductVersion: p.appVersion,
    PublishMode: t.publishMode,
    PublishType: t.publishType,
    PushContent: t.upgradeContent,
    RealGreyEndtime: end,
    RealGreyEndtimeStr: end,
    RealGreyEndtype: 0,
    RealGreyNum: t.greyAdmitted,
    RealGreyUv: t.greyAdmitted,
    SilentType: 0,
    SyncResult: '',
    TaskStatus: t.taskStatus,
    UpgradeContent: t.upgradeContent,
    UpgradeType: t.upgradeType,
    UpgradeValidTime: 0,
    WhitelistIds: t.whitelistIds,
  };
}

async function commonDetail(ctx: ActionContext, t: UpgradeTask, p: UpgradePackage) {
  const rules = parseGreyConfig(t.greyConfigInfo);
  const url = await deliveryUrlOf(ctx, p);
  const downloadable = p.packageType === 'apk' || p.packageType === 'hap' || p.packageType === 'enterprise';
  return {
    rules,
    fields: {
      AppCode: appCodeOf(ctx),
      AppId: ctx.appId,
      Creator: t.creator,
      DownloadUrl: url,
      GreyConfigInfo: t.greyConfigInfo,
      GreyEndtimeData: formatDateTime(t.greyEndtime),
      GreyNum: t.greyNum,
      Id: t.id,
      IsEnterprise: p.isEnterprise,
      IsOfficial: t.publishType === 3 ? 1 : 0,
      IsRc: 0,
      IsRelease: t.taskStatus === 1 ? 1 : 0,
      Memo: t.memo,
      Modifier: '',
      NetType: ruleValues(rules, 'netType', 1),
      OsVersion: osVersionOf(rules),
      PackageInfoId: t.packageId,
      PackageType: p.packageType,
      Platform: t.platform,
      ProductId: appCodeOf(ctx),
      PublishMode: t.publishMode,
      PublishType: t.publishType,
      PushContent: t.upgradeContent,
      QrcodeUrl: !downloadable ? '' : p.needCheck === 1 ? downloadGateUrl(ctx.deps.config, ctx, p.id) : url,
      RuleJsonList: toRuleJsonList(rules),
      SilentType: 0,
      TaskStatus: t.taskStatus,
      UpgradeContent: t.upgradeContent,
      UpgradeType: t.upgradeType,
      UpgradeValidTime: 0,
      WhitelistIds: t.whitelistIds,
    },
  };
}

export async function toTaskInfo(ctx: ActionContext, t: UpgradeTask, p: UpgradePackage, lists: WhitelistRef[]): Promise<Record<string, unknown>> {
  const { fields } = await commonDetail(ctx, t, p);
  return {
    ...fields,
    AppstoreUrl: p.appstoreUrl,
    Creater: t.creator,
    HistoryForce: t.historyForce,
    Whitelist: lists.map((w) => ({
      AppCode: appCodeOf(ctx),
      Id: w.id,
      IdType: 'userId',
      Platform: t.platform,
      Status: 1,
      UserType: '',
      WhiteListCount: w.entryCount,
      WhiteListName: w.name,
      WhitelistType: w.type,
    })),
    WorkspaceId: ctx.workspaceId,
  };
}

export async function toMdsTaskContent(ctx: ActionContext, t: UpgradeTask, p: UpgradePackage, lists: WhitelistRef[]): Promise<Record<string, unknown>> {
  const { rules, fields } = await commonDetail(ctx, t, p);
  return {
    ...fields,
    Appstoreurl: p.appstoreUrl,
    ChannelContains: '',
    ChannelExcludes: '',
    CityContains: ruleValues(rules, 'city', 1),
    CityExcludes: ruleValues(rules, 'city', 2),
    DeviceGreyNum: 0,
    DevicePercent: 0,
    ExecutionOrder: 0,
    GmtCreateStr: formatDateTime(t.createdAt),
    GreyNotice: 0,
    GreyUv: t.greyAdmitted,
    InnerVersion: p.appVersion,
    IsPush: 0,
    MobileModelContains: ruleValues(rules, 'mobileModel', 1),
    MobileModelExcludes: ruleValues(rules, 'mobileModel', 2),
    ProductVersion: p.appVersion,
    ReleaseType: p.packageType,
    SyncMode: '',
    SyncResult: '',
    Whitelist: lists.map((w) => ({
      AppCode: appCodeOf(ctx),
      Business: 'upgrade',
      GmtModified: formatDateTime(w.modifiedAt),
      Id: w.id,
      IdType: 'userId',
      Platform: t.platform,
      Status: 1,
      WhiteListCount: w.entryCount,
      WhiteListName: w.name,
    })),
  };
}
