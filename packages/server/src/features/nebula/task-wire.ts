import { formatDateTime } from '../../core/ids.js';
import type { ActionContext } from '../../core/registry.js';
import { S } from '../../core/schema.js';
import type { NebulaResource, NebulaTask } from './nebula-types.js';
import { appCodeOf } from './resource-wire.js';
import { parseGreyConfig, toRuleJsonList, toRuleTree, type GreyRule } from './rules/grey-config.js';

const taskCommon = {
  AppCode: S.str('appId-workspaceId'),
  BizType: S.str('always nebula'),
  Creator: S.str(),
  GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModifiedStr: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GreyConfigInfo: S.str('advanced rules, the JSON text as given at creation'),
  GreyEndtime: S.str('end of the time window, yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GreyEndtimeData: S.str('end of the time window, yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GreyEndtimeStr: S.str('end of the time window, yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GreyNum: S.int32('users admitted by a time-window task'),
  GreyUrl: S.str(),
  Id: S.int64('task id'),
  Memo: S.str(),
  Modifier: S.str(),
  PackageId: S.int64('package id'),
  Percent: S.int32('percentage of users (PublishMode 3)'),
  Platform: S.str('all, Android or iOS (from the package)'),
  ProductId: S.str('appId-workspaceId-h5Id'),
  ProductVersion: S.str('package version'),
  PublishMode: S.int32('1 whitelist, 2 time window, 3 percentage, 4 full'),
  PublishType: S.int32('2 gray, 3 official'),
  ReleaseVersion: S.str(),
  Status: S.int32(),
  SyncResult: S.str(),
  TaskName: S.str('the H5 app name'),
  TaskStatus: S.int32('0 to be released, 1 releasing, 2 finished, 3 paused'),
  TaskType: S.int32('0 normal, 1 rollback'),
  TaskVersion: S.int64('creation time, epoch ms'),
  UpgradeNoticeNum: S.int64(),
  UpgradeProgress: S.str(),
  WhitelistIds: S.str('comma-separated whitelist ids'),
};

export const taskInfoSchema = S.obj({
  ...taskCommon,
  GreyConfigInfo: S.str(
    'advanced rules in the evaluated form of the guide, which differs from the upload form ({"operator":"and","defaultResult":false,"subRules":[{"operator":"contains","left":[...],"right":"city","defaultResult":false}]}); "" when there are none',
  ),
});

export const taskDetailSchema = S.obj({
  ...taskCommon,
  AppId: S.str(),
  Atomic: S.int32(),
  BaseInfoId: S.int64(),
  Cronexpress: S.int32(),
  DownloadUrl: S.str('address of the .amr, as "intranet;internet" (both the same here)'),
  ExtraData: S.str('JSON text'),
  FileSize: S.str(),
  FullRepair: S.int32(),
  IssueDesc: S.str(),
  OssPath: S.str(),
  PublishPeriod: S.int32('the package\'s release state'),
  QuickRollback: S.int32(),
  RuleJsonList: S.arr(
    S.obj({
      Operation: S.str('1 include, 2 exclude, 3 within range, 4 out of range'),
      RuleElement: S.str('city, mobileModel, netType, osVersion or clientVersion'),
      RuleType: S.str('the evaluated operator: contains, excludes, vLimitIn or vLimitOut'),
      Value: S.str('comma-separated values, or "lower-upper" for ranges'),
    }),
  ),
  GreyRuleJson: S.str(
    'mcube extension: the advanced rules in the evaluated form of the guide ({"operator":"and","defaultResult":false,"subRules":[{"operator":"contains","left":[...],"right":"city","defaultResult":false}]}); "" when there are none',
  ),
  SourceId: S.str(),
  SourceName: S.str(),
  SourceType: S.str(),
  SyncType: S.int32(),
  WorkspaceId: S.str(),
});

/** The advanced rules in the guide's evaluated form, which ListMcubeNebulaTasks answers with (§5.6.2); "" when there are none. */
function ruleTreeText(rules: GreyRule[]): string {
  return rules.length ? JSON.stringify(toRuleTree(rules)) : '';
}

/** A task as ListMcubeNebulaTasks lists it. */
export function toTaskInfo(ctx: ActionContext, t: NebulaTask, r: NebulaResource): Record<string, unknown> {
  return { ...taskFields(ctx, t, r), GreyConfigInfo: ruleTreeText(parseGreyConfig(t.greyConfigInfo)) };
}

/** The fields the list and the detail share; GreyConfigInfo as uploaded. */
function taskFields(ctx: ActionContext, t: NebulaTask, r: NebulaResource): Record<string, unknown> {
  const end = t.greyEndtime === null ? '' : formatDateTime(t.greyEndtime);
  return {
    AppCode: appCodeOf(ctx),
    BizType: 'nebula',
    Creator: '',
    GmtCreate: formatDateTime(t.createdAt),
    GmtModified: formatDateTime(t.modifiedAt),
    GmtModifiedStr: formatDateTime(t.modifiedAt),
    GreyConfigInfo: t.greyConfigInfo,
    GreyEndtime: end,
    GreyEndtimeData: end,
    GreyEndtimeStr: end,
    GreyNum: t.greyNum,
    GreyUrl: '',
    Id: t.id,
    Memo: t.memo,
    Modifier: '',
    PackageId: t.resourceId,
    Percent: t.percent,
    Platform: t.platform,
    ProductId: `${appCodeOf(ctx)}-${t.h5Id}`,
    ProductVersion: r.h5Version,
    PublishMode: t.publishMode,
    PublishType: t.publishType,
    ReleaseVersion: t.releaseVersion,
    Status: 1,
    SyncResult: '',
    TaskName: r.h5Name,
    TaskStatus: t.taskStatus,
    TaskType: t.taskType,
    TaskVersion: t.taskVersion,
    UpgradeNoticeNum: 0,
    UpgradeProgress: '',
    WhitelistIds: t.whitelistIds,
  };
}

export async function toTaskDetail(ctx: ActionContext, t: NebulaTask, r: NebulaResource): Promise<Record<string, unknown>> {
  const rules = parseGreyConfig(t.greyConfigInfo);
  const url = await ctx.deps.blobs.downloadUrl(r.amrKey);
  return {
    ...taskFields(ctx, t, r),
    AppId: ctx.appId,
    Atomic: 0,
    BaseInfoId: 0,
    Cronexpress: 0,
    DownloadUrl: `${url};${url}`,
    ExtraData: JSON.stringify({ resourceType: String(r.resourceType) }),
    FileSize: String(r.fileSize),
    FullRepair: 0,
    IssueDesc: '',
    OssPath: '',
    PublishPeriod: r.publishPeriod,
    QuickRollback: 0,
    RuleJsonList: toRuleJsonList(rules),
    GreyRuleJson: ruleTreeText(rules),
    SourceId: '',
    SourceName: '',
    SourceType: '',
    SyncType: 0,
    WorkspaceId: ctx.workspaceId,
  };
}
