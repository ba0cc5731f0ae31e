import { formatDateTime } from '../../core/ids.js';
import { pageOutput, pageResult, paging } from '../../core/paging.js';
import { BusinessError } from '../../core/errors.js';
import { defineAction, type ActionContext } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { PACKAGE_ERROR_CODES } from '../packages/index.js';
import { createApp, deleteApp, pageOfApps } from './app-service.js';
import { getResourceOfKind, listResources } from './nebula-store.js';
import type { NebulaResource, NebulaTask } from './nebula-types.js';
import { createResource } from './resource-service.js';
import { appCodeOf, toResourceInfo } from './resource-wire.js';
import { checkExtendInfo, checkResourceInput } from './rules/resource-fields.js';
import { invalid, parseId, shown } from './rules/field-error.js';
import { checkTaskInput, type TaskSpec } from './rules/task-fields.js';
import { changeTaskStatus, createTask, taskDetail, tasksOfResource } from './task-service.js';
import { toTaskInfo } from './task-wire.js';
import { NEBULA_PAGE_SIZE, UPLOAD_ERRORS, pageInput } from './wire-common.js';

/*
 * Mini programs (the vendor's "Mini Program release"): Nebula packages under a
 * 16-digit id, built, signed, stored and delivered exactly as offline packages
 * are, by the same engine and the same gray-release rules. These actions are
 * the vendor's Mcube mini family; they see only mini programs (kinds.ts).
 */

const TAG = 'Mini programs';
/** The mini result objects carry Success, ResultMsg and (on changes) Data, a string. */
const changed = S.obj({ ...resultBase, Data: S.str('empty') });

export const createMcubeMiniApp = defineAction<{ H5Id?: string; H5Name?: string }>({
  name: 'CreateMcubeMiniApp',
  summary: 'Create a mini program: a 16-digit H5Id and a name. Ids starting 666 or 20000 are accepted with a warning in ResultMsg.',
  tag: TAG,
  input: { ...commonInput, H5Id: S.str('16-digit mini program id', 64), H5Name: S.str('display name', 200) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CreateMiniResult',
  result: changed,
  mutates: true,
  errors: ['InvalidH5Id', 'InvalidH5Name', 'MiniAppExists'],
  handler: async (input, ctx) => {
    const { warning } = await createApp(ctx, input.H5Id, input.H5Name, 'mini');
    return { Data: '', ...(warning ? { ResultMsg: warning } : {}) };
  },
});

export const deleteMcubeMiniApp = defineAction<{ H5Id?: string }>({
  name: 'DeleteMcubeMiniApp',
  summary: 'Delete a mini program with all its packages, release tasks and stored files.',
  tag: TAG,
  input: { ...commonInput, H5Id: S.str('16-digit mini program id', 64) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'DeleteMiniResult',
  result: changed,
  mutates: true,
  errors: ['InvalidH5Id', 'MiniAppNotFound'],
  handler: async (input, ctx) => {
    await deleteApp(ctx, input.H5Id, 'mini');
    return { Data: '' };
  },
});

export const listMcubeMiniApps = defineAction<{ Keyword?: string; PageNum?: number; PageSize?: number }>({
  name: 'ListMcubeMiniApps',
  summary: 'List the mini programs, filtered by a keyword on id or name, paged.',
  tag: TAG,
  input: { ...commonInput, Keyword: S.str('part of the mini program id or name (case-insensitive)', 200), ...pageInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListMiniResult',
  result: S.obj({
    ...resultBase,
    ...pageOutput,
    MiniProgramList: S.arr(S.obj({ AppCode: S.str('appId-workspaceId'), GmtCreate: S.str(), GmtModified: S.str(), H5Id: S.str(), H5Name: S.str() })),
  }),
  mutates: false,
  handler: async (input, ctx) => {
    const { pageNum, pageSize } = paging(input, NEBULA_PAGE_SIZE);
    const { total, apps } = await pageOfApps(ctx, input.Keyword ?? '', pageNum, pageSize, 'mini');
    return {
      ...pageResult(pageNum, pageSize, total),
      MiniProgramList: apps.map((a) => ({
        AppCode: appCodeOf(ctx),
        GmtCreate: formatDateTime(a.createdAt),
        GmtModified: formatDateTime(a.createdAt),
        H5Id: a.h5Id,
        H5Name: a.h5Name,
      })),
    };
  },
});

interface UploadMiniInput {
  H5Id?: string;
  H5Name?: string;
  H5Version?: string;
  PackageType?: number;
  ResourceType?: number;
  Platform?: string;
  ClientVersionMin?: string;
  ClientVersionMax?: string;
  ResourceFileUrl?: string;
  MainUrl?: string;
  Vhost?: string;
  ExtendInfo?: string;
  AutoInstall?: number;
  InstallType?: number;
  EnableKeepAlive?: string;
  EnableOptionMenu?: string;
  EnableTabBar?: number;
  IconFileUrl?: string;
  IconUrl?: string;
  UserId?: string;
  Uuid?: string;
  OnexFlag?: boolean;
}

/** "YES"/"NO" for a launch flag given as YES/NO, true/false or 1/0; null when not given. */
function yesNo(field: string, raw: string | number | undefined): 'YES' | 'NO' | null {
  if (raw === undefined || String(raw).trim() === '') return null;
  const v = String(raw).trim().toLowerCase();
  if (v === 'yes' || v === 'true' || v === '1') return 'YES';
  if (v === 'no' || v === 'false' || v === '0') return 'NO';
  throw invalid(field, `${shown(String(raw))} is not allowed; use YES or NO (true/false and 1/0 are read the same way).`);
}

/**
 * The package's extend_info: the given ExtendInfo object, with the launch flags
 * (enableKeepAlive, enableOptionMenu, enableTabBar) set in its launchParams,
 * where the Nebula container reads start parameters. A flag already in the
 * given launchParams is kept as written.
 */
function miniExtendInfo(input: UploadMiniInput): { extendInfo: string; flags: Record<string, string> } {
  const flags: Record<string, string> = {};
  for (const [key, field, raw] of [
    ['enableKeepAlive', 'EnableKeepAlive', input.EnableKeepAlive],
    ['enableOptionMenu', 'EnableOptionMenu', input.EnableOptionMenu],
    ['enableTabBar', 'EnableTabBar', input.EnableTabBar],
  ] as const) {
    const v = yesNo(field, raw);
    if (v) flags[key] = v;
  }
  const given = checkExtendInfo(input.ExtendInfo);
  const obj = given ? (JSON.parse(given) as Record<string, unknown>) : {};
  // checkExtendInfo has made sure launchParams, when given, is an object
  const lp = (obj.launchParams ?? {}) as Record<string, unknown>;
  // what the package carries: a flag written in ExtendInfo wins over the same flag given as a field
  const effective: Record<string, string> = {};
  for (const key of ['enableKeepAlive', 'enableOptionMenu', 'enableTabBar']) {
    const v = lp[key] ?? flags[key];
    if (v !== undefined) effective[key] = String(v);
  }
  if (!Object.keys(flags).length) return { extendInfo: given, flags: effective };
  obj.launchParams = { ...flags, ...lp };
  const text = JSON.stringify(obj);
  if (text.length > 8192) throw invalid('ExtendInfo', 'is longer than 8192 characters once the launch flags are added.');
  return { extendInfo: text, flags: effective };
}

function checkPackageType(v: number | undefined): number {
  if (v === undefined) return 0;
  if (!Number.isInteger(v) || v < 0 || v > 99) throw invalid('PackageType', `${v} is not a package type (a whole number from 0 to 99).`);
  return v;
}

function shortText(field: string, raw: string | undefined, max: number): string {
  const v = (raw ?? '').trim();
  if (v.length > max) throw invalid(field, `is longer than ${max} characters.`);
  return v;
}

export const uploadMcubeMiniPackage = defineAction<UploadMiniInput>({
  name: 'UploadMcubeMiniPackage',
  summary:
    'Create a mini program package (one version) from an uploaded .zip (<H5Id>/...): builds and signs the .amr and its h5.json as for offline packages; the mini program is created when missing.',
  tag: TAG,
  input: {
    ...commonInput,
    H5Id: S.str('16-digit mini program id', 64),
    H5Name: S.str('mini program name (used when it is created)', 200),
    H5Version: S.str('dotted numeric version, unique within the mini program, e.g. 1.0.0.1', 64),
    PackageType: S.int32('the console\'s package type (test or official package), 0 to 99; stored, listed and filtered on (ListMcubeMiniPackages PackageTypes), not read by delivery'),
    ResourceType: S.int32('1, a normal package (the default; mini programs have no global resource packages)'),
    Platform: S.str('all, Android or iOS', 16),
    ClientVersionMin: S.str('"ios;android": "aaa;bbb" for all, ";bbb" for Android, "aaa;" for iOS', 64),
    ClientVersionMax: S.str('same form as ClientVersionMin, may be empty (no upper bound)', 64),
    ResourceFileUrl: S.str('address of the uploaded .zip (GetMcubeFileToken)', 2048),
    MainUrl: S.str('entry page, e.g. /index.html, optionally with its first page after "#" (/index.html#pages/index/index)', 512),
    Vhost: S.str('virtual domain; defaults to the configured one (QueryMcubeVhost)', 255),
    ExtendInfo: S.str('JSON object, e.g. {"asyncReqRate":"1800"} (0 to 86400 s)', 8192),
    AutoInstall: S.int32('0 Wi-Fi only, 1 any network'),
    InstallType: S.int32('0 install on first use, 1 preload'),
    EnableKeepAlive: S.str('YES or NO: launchParams.enableKeepAlive of the package', 16),
    EnableOptionMenu: S.str('YES or NO: launchParams.enableOptionMenu of the package', 16),
    EnableTabBar: S.int32('1 or 0: launchParams.enableTabBar YES or NO'),
    IconFileUrl: S.str('stored with the package, never fetched', 2048),
    IconUrl: S.str('stored with the package, never fetched', 2048),
    UserId: S.str('the uploader, echoed in the result', 128),
    Uuid: S.str('stored with the package', 128),
    OnexFlag: S.bool('always true'),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'UploadMiniPackageResult',
  result: S.obj({ ...resultBase, ReturnPackageResult: S.obj({ DebugUrl: S.str('empty'), PackageId: S.str('id of the new package (a string)'), UserId: S.str('UserId as given') }) }),
  mutates: true,
  errors: [
    'BuildExpired',
    'InvalidH5Id', 'InvalidH5Name', 'InvalidH5Version', 'InvalidPackageType', 'InvalidResourceType', 'InvalidPlatform', 'InvalidClientVersionMin', 'InvalidClientVersionMax',
    'InvalidResourceFileUrl', 'InvalidMainUrl', 'InvalidVhost', 'InvalidExtendInfo', 'InvalidAutoInstall', 'InvalidInstallType', 'InvalidEnableKeepAlive',
    'InvalidEnableOptionMenu', 'InvalidEnableTabBar', 'InvalidIconFileUrl', 'InvalidIconUrl', 'InvalidUserId', 'InvalidUuid',
    'H5VersionExists', 'ResourceTypeMismatch', 'VhostNotConfigured', 'ConcurrentChange', 'RsaKeyChanged', ...UPLOAD_ERRORS, ...PACKAGE_ERROR_CODES.filter((c) => c !== 'InvalidRsaKey' && c !== 'InvalidExtendInfo'),
  ],
  handler: async (input, ctx) => {
    if (input.ResourceType !== undefined && input.ResourceType !== 1) {
      throw invalid('ResourceType', `${input.ResourceType} is not allowed; a mini program package is a normal package (1).`);
    }
    const packageType = checkPackageType(input.PackageType);
    const { extendInfo, flags } = miniExtendInfo(input);
    const info = {
      ...flags,
      iconFileUrl: shortText('IconFileUrl', input.IconFileUrl, 2048),
      iconUrl: shortText('IconUrl', input.IconUrl, 2048),
      userId: shortText('UserId', input.UserId, 128),
      uuid: shortText('Uuid', input.Uuid, 128),
    };
    const spec = checkResourceInput(
      {
        H5Id: input.H5Id,
        H5Name: input.H5Name,
        H5Version: input.H5Version,
        ResourceType: 1,
        Platform: input.Platform,
        ClientVersionMin: input.ClientVersionMin,
        ClientVersionMax: input.ClientVersionMax,
        FileUrl: input.ResourceFileUrl,
        MainUrl: input.MainUrl,
        Vhost: input.Vhost,
        AutoInstall: input.AutoInstall,
        InstallType: input.InstallType,
      },
      'mini',
      'ResourceFileUrl',
    );
    const { id, signed } = await createResource(ctx, { ...spec, extendInfo, mini: { packageType, info: JSON.stringify(info) } });
    if (spec.warning) ctx.deps.log.warn('discouraged mini program id', { requestId: ctx.requestId, appId: ctx.appId, h5Id: spec.h5Id, warning: spec.warning });
    const unsigned = signed ? null : 'Built unsigned: no RSA key is uploaded for this app and workspace (UploadMcubeRsaKey), so CERT.json holds empty signatures and clients that verify packages will refuse it.';
    const note = [spec.warning, unsigned].filter(Boolean).join(' ');
    return { ReturnPackageResult: { DebugUrl: '', PackageId: String(id), UserId: info.userId }, ...(note ? { ResultMsg: note } : {}) };
  },
});

const miniPackageFields = {
  AppCode: S.str('appId-workspaceId'),
  AutoInstall: S.int32('0 Wi-Fi only, 1 any network'),
  ClientVersionMax: S.str('"ios;android"'),
  ClientVersionMin: S.str('"ios;android"'),
  DownloadUrl: S.str('address of the .amr file'),
  ExtendInfo: S.str('the package\'s extend_info, launch flags included'),
  ExtraData: S.str('JSON text: resourceType and the fields stored with the package (launch flags, icon, uploader, uuid)'),
  FallbackBaseUrl: S.str('"<intranet>;<internet>" address of the package\'s unpacked copy (MCUBE_PACKAGE_FALLBACK), or empty'),
  GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  H5Id: S.str(),
  H5Name: S.str(),
  H5Version: S.str(),
  Id: S.int64('package id'),
  InstallType: S.int32('0 install on first use, 1 preload'),
  MainUrl: S.str(),
  Memo: S.str('address of the package\'s h5.json'),
  PackageType: S.int32('as given at upload'),
  Platform: S.str('all, Android or iOS'),
  PublishPeriod: S.int32('0 initial, 1 whitelist gray, 2 gray, 3 official, 4 rollback, 5 finished'),
  ResourceType: S.int32('1 normal package (a number here), 0 global resource package'),
  Status: S.int32(),
};
const miniPackageSchema = S.obj(miniPackageFields);

/** The fields of `fields` taken from an offline-package wire object: the mini models are subsets of those. */
function only(fields: object, from: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(fields).map((k) => [k, from[k]]));
}

async function toMiniPackage(ctx: ActionContext, r: NebulaResource): Promise<Record<string, unknown>> {
  const stored = r.miniInfo ? (JSON.parse(r.miniInfo) as Record<string, unknown>) : {};
  return { ...only(miniPackageFields, await toResourceInfo(ctx, r)), ExtraData: JSON.stringify({ resourceType: String(r.resourceType), ...stored }), PackageType: r.packageType ?? 0, ResourceType: r.resourceType };
}

/** PackageTypes: one type or several, comma-separated; empty for all. */
function packageTypesOf(raw: string | undefined): number[] | null {
  const v = (raw ?? '').trim();
  if (v === '') return null;
  const parts = v.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d{1,2}$/.test(p))) throw invalid('PackageTypes', `${shown(raw)} is not a package type or a comma-separated list of them.`);
  return [...new Set(parts.map(Number))];
}

export const listMcubeMiniPackages = defineAction<{ H5Id?: string; PackageTypes?: string; PageNum?: number; PageSize?: number }>({
  name: 'ListMcubeMiniPackages',
  summary: 'List the packages of a mini program (all mini programs when H5Id is empty), newest first, paged; PackageTypes filters by package type.',
  tag: TAG,
  input: { ...commonInput, H5Id: S.str('16-digit mini program id', 64), PackageTypes: S.str('package type, or types comma-separated (e.g. "0,1"); empty for all', 64), ...pageInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListMiniPackageResult',
  result: S.obj({ ...resultBase, ...pageOutput, MiniPackageList: S.arr(miniPackageSchema) }),
  mutates: false,
  errors: ['InvalidPackageTypes'],
  handler: async (input, ctx) => {
    const types = packageTypesOf(input.PackageTypes);
    const { pageNum, pageSize } = paging(input, NEBULA_PAGE_SIZE);
    const { total, resources } = await listResources(ctx.deps.db.knex, ctx, 'mini', (input.H5Id ?? '').trim(), (pageNum - 1) * pageSize, pageSize, types);
    return { ...pageResult(pageNum, pageSize, total), MiniPackageList: await Promise.all(resources.map((r) => toMiniPackage(ctx, r))) };
  },
});

/** A package id given as text (QueryMcubeMiniPackage, ListMcubeMiniTasks). */
const packageIdOf = (raw: string | undefined): number => parseId('Id', raw, 'the id of the mini program package', 'a package id')!;

export const queryMcubeMiniPackage = defineAction<{ H5Id?: string; Id?: string }>({
  name: 'QueryMcubeMiniPackage',
  summary: 'Get one mini program package by its id (H5Id, when given, must be its mini program).',
  tag: TAG,
  input: { ...commonInput, H5Id: S.str('16-digit mini program id', 64), Id: S.str('package id (a string here)', 32) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'QueryMiniPackageResult',
  result: S.obj({ ...resultBase, MiniPackageInfo: miniPackageSchema }),
  mutates: false,
  errors: ['InvalidId', 'MiniPackageNotFound'],
  handler: async (input, ctx) => {
    const id = packageIdOf(input.Id);
    const h5Id = (input.H5Id ?? '').trim();
    const r = await getResourceOfKind(ctx.deps.db.knex, ctx, 'mini', id);
    if (!r || (h5Id && r.h5Id !== h5Id)) {
      throw new BusinessError('MiniPackageNotFound', `Id: no mini program package ${id}${h5Id ? ` of ${h5Id}` : ''} in this app and workspace.`);
    }
    return { MiniPackageInfo: await toMiniPackage(ctx, r) };
  },
});

const miniTaskFields = {
  AppCode: S.str('appId-workspaceId'),
  GmtCreate: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GmtModified: S.str('yyyy-MM-dd HH:mm:ss (wire zone: MCUBE_WIRE_TIME_ZONE, UTC by default)'),
  GreyConfigInfo: S.str('advanced rules in the evaluated form of the guide; "" when there are none'),
  GreyEndtime: S.str('end of the time window, yyyy-MM-dd HH:mm:ss'),
  GreyEndtimeData: S.str('end of the time window, yyyy-MM-dd HH:mm:ss'),
  GreyNum: S.int32('users admitted by a time-window task'),
  Id: S.int64('task id'),
  Memo: S.str(),
  PackageId: S.int64('package id'),
  Platform: S.str('all, Android or iOS (from the package)'),
  ProductVersion: S.str('package version'),
  PublishMode: S.int32('1 whitelist, 2 time window, 4 full'),
  PublishType: S.int32('2 gray, 3 official'),
  Status: S.str('"1" (a string here)'),
  TaskStatus: S.int32('0 to be released, 1 releasing, 2 finished, 3 paused'),
  WhitelistIds: S.str('comma-separated whitelist ids'),
};
const miniTaskSchema = S.obj(miniTaskFields);

function toMiniTask(ctx: ActionContext, t: NebulaTask, r: NebulaResource): Record<string, unknown> {
  const i = toTaskInfo(ctx, t, r);
  return { ...only(miniTaskFields, i), Status: String(i.Status) };
}

interface MiniTaskInput {
  PackageId?: number;
  PublishType?: number;
  PublishMode?: number;
  WhitelistIds?: string;
  GreyEndtimeData?: string;
  GreyNum?: number;
  GreyConfigInfo?: string;
  Memo?: string;
}

/**
 * The task rules of offline packages over the fields the mini task actions
 * declare, and only those: the gateway passes undeclared fields through
 * unconverted, and the offline-package fields a mini request may carry
 * (Percent, TaskType, TaskStatus, BizType) are not part of this call.
 */
function miniTaskSpec(input: MiniTaskInput, now: number): TaskSpec {
  if (input.PackageId === undefined || input.PackageId === 0) throw invalid('PackageId', 'is required: the id of the mini program package.');
  // the mini calls have no Percent: a gray release is by whitelist or time window only
  if (input.PublishType === 2 && input.PublishMode !== 1 && input.PublishMode !== 2) {
    const why = input.PublishMode === 3 ? '3 (percentage) is not a mini program release mode' : `${input.PublishMode ?? '(empty)'} is not allowed for a gray release`;
    throw invalid('PublishMode', `${why}; use 1 (whitelist) or 2 (time window).`);
  }
  const { PackageId, PublishType, PublishMode, WhitelistIds, GreyEndtimeData, GreyNum, GreyConfigInfo, Memo } = input;
  return checkTaskInput({ PackageId, PublishType, PublishMode, WhitelistIds, GreyEndtimeData, GreyNum, GreyConfigInfo, Memo }, now);
}

export const createMcubeMiniTask = defineAction<MiniTaskInput>({
  name: 'CreateMcubeMiniTask',
  summary: 'Create a release task for a mini program package: gray (whitelist or time window, with advanced rules) or official, by the same rules as offline packages.',
  tag: TAG,
  input: {
    ...commonInput,
    PackageId: S.int64('id of the mini program package'),
    PublishType: S.int32('2 gray release, 3 official release'),
    PublishMode: S.int32('gray: 1 whitelist, 2 time window; official: empty, 0 or 4 (stored as 4)'),
    WhitelistIds: S.str('whitelist ids, comma-separated (PublishMode 1)', 1024),
    GreyEndtimeData: S.str('end of the time window (PublishMode 2), "yyyy-MM-dd HH:mm:ss" in the wire zone (MCUBE_WIRE_TIME_ZONE, UTC by default), in the future and less than 7 days ahead', 64),
    GreyNum: S.int32('number of users of a time-window gray release (PublishMode 2)'),
    GreyConfigInfo: S.str('advanced rules (gray only), as for CreateMcubeNebulaTask', 65536),
    Memo: S.str('release note', 1024),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CreateMiniTaskResult',
  result: S.obj({ ...resultBase, MiniTaskId: S.str('id of the new task (a string)') }),
  mutates: true,
  errors: [
    'InvalidPackageId', 'InvalidMemo', 'InvalidPublishType', 'InvalidPublishMode', 'InvalidWhitelistIds', 'InvalidGreyEndtimeData', 'InvalidGreyNum',
    'InvalidGreyConfigInfo', 'MiniPackageNotFound', 'TooManyTasks',
  ],
  handler: async (input, ctx) => {
    const { id } = await createTask(ctx, miniTaskSpec(input, ctx.deps.now()), 'mini');
    return { MiniTaskId: String(id) };
  },
});

/** A whole number given as text (the MDS variant sends GreyNum and PublishMode as strings); undefined when empty. */
function intText(field: string, raw: string | undefined): number | undefined {
  const v = (raw ?? '').trim();
  if (v === '') return undefined;
  if (!/^\d{1,9}$/.test(v)) throw invalid(field, `${shown(raw)} is not a whole number.`);
  return Number(v);
}

/**
 * The MDS name of CreateMcubeMiniTask: the same task, with GreyNum and
 * PublishMode as strings and the outcome inside ResultContent.Data (Content =
 * the new task's id), failures included, as the MDS actions report.
 */
export const createMdsMiniprogramTask = defineAction<{
  Id?: number;
  H5Id?: string;
  PackageId?: number;
  PublishType?: number;
  PublishMode?: string;
  WhitelistIds?: string;
  GreyEndtimeData?: string;
  GreyNum?: string;
  GreyConfigInfo?: string;
  Memo?: string;
  SyncMode?: string;
}>({
  name: 'CreateMdsMiniprogramTask',
  summary: 'The MDS form of CreateMcubeMiniTask: create a release task for a mini program package; the new task id is ResultContent.Data.Content.',
  tag: TAG,
  input: {
    ...commonInput,
    Id: S.int64('only 0 (create)'),
    H5Id: S.str('16-digit mini program id; when given, must be the package\'s', 64),
    PackageId: S.int64('id of the mini program package'),
    PublishType: S.int32('2 gray release, 3 official release'),
    PublishMode: S.str('gray: "1" whitelist, "2" time window; official: empty, "0" or "4" (a string here)', 16),
    WhitelistIds: S.str('whitelist ids, comma-separated (PublishMode 1)', 1024),
    GreyEndtimeData: S.str('end of the time window (PublishMode 2), "yyyy-MM-dd HH:mm:ss" in the wire zone (MCUBE_WIRE_TIME_ZONE, UTC by default)', 64),
    GreyNum: S.str('number of users of a time-window gray release (a string here)', 16),
    GreyConfigInfo: S.str('advanced rules (gray only), as for CreateMcubeNebulaTask', 65536),
    Memo: S.str('release note', 1024),
    SyncMode: S.str('ignored', 16),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ResultContent',
  result: S.obj({ ...resultBase, RequestId: S.str(), Data: S.obj({ Content: S.str('id of the new task'), ErrorCode: S.str(), RequestId: S.str(), ResultMsg: S.str(), Success: S.bool() }) }),
  mutates: true,
  errors: [
    'InvalidId', 'InvalidH5Id', 'InvalidPackageId', 'InvalidMemo', 'InvalidPublishType', 'InvalidPublishMode', 'InvalidWhitelistIds', 'InvalidGreyEndtimeData', 'InvalidGreyNum',
    'InvalidGreyConfigInfo', 'MiniPackageNotFound', 'TooManyTasks',
  ],
  handler: async (input, ctx) => {
    try {
      if (input.Id !== undefined && input.Id !== 0) throw invalid('Id', `${input.Id} is not allowed; only 0 (create) is accepted.`);
      if (input.PackageId === undefined || input.PackageId === 0) throw invalid('PackageId', 'is required: the id of the mini program package.');
      const h5Id = (input.H5Id ?? '').trim();
      if (h5Id) {
        const r = await getResourceOfKind(ctx.deps.db.knex, ctx, 'mini', input.PackageId);
        if (r && r.h5Id !== h5Id) throw invalid('H5Id', `${shown(h5Id)} is not the mini program of package ${input.PackageId} (${r.h5Id}).`);
      }
      const { PackageId, PublishType, WhitelistIds, GreyEndtimeData, GreyConfigInfo, Memo } = input;
      const fields = { PackageId, PublishType, WhitelistIds, GreyEndtimeData, GreyConfigInfo, Memo };
      const spec = miniTaskSpec({ ...fields, PublishMode: intText('PublishMode', input.PublishMode), GreyNum: intText('GreyNum', input.GreyNum) }, ctx.deps.now());
      const { id } = await createTask(ctx, spec, 'mini');
      return { RequestId: ctx.requestId, Data: { Content: String(id), ErrorCode: '', RequestId: ctx.requestId, ResultMsg: '', Success: true } };
    } catch (err) {
      if (err instanceof BusinessError) {
        throw new BusinessError(err.code, err.message, { RequestId: ctx.requestId, Data: { Content: '', ErrorCode: err.code, RequestId: ctx.requestId, ResultMsg: err.message, Success: false } });
      }
      throw err;
    }
  },
});

export const listMcubeMiniTasks = defineAction<{ Id?: string }>({
  name: 'ListMcubeMiniTasks',
  summary: 'List the release tasks of one mini program package (Id = package id), newest first; not paged.',
  tag: TAG,
  input: { ...commonInput, Id: S.str('package id (a string here)', 32) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListMiniTaskResult',
  result: S.obj({ ...resultBase, MiniTaskList: S.arr(miniTaskSchema) }),
  mutates: false,
  errors: ['InvalidId', 'MiniPackageNotFound'],
  handler: async (input, ctx) => {
    const { resource, tasks } = await tasksOfResource(ctx, packageIdOf(input.Id), 'mini');
    return { MiniTaskList: tasks.map((t) => toMiniTask(ctx, t, resource)) };
  },
});

export const queryMcubeMiniTask = defineAction<{ TaskId?: number }>({
  name: 'QueryMcubeMiniTask',
  summary: 'Get one release task of a mini program package.',
  tag: TAG,
  input: { ...commonInput, TaskId: S.int64('task id') },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'QueryMiniTaskResult',
  result: S.obj({ ...resultBase, MiniTaskInfo: miniTaskSchema }),
  mutates: false,
  errors: ['InvalidTaskId', 'MiniTaskNotFound'],
  handler: async (input, ctx) => {
    const { task, resource } = await taskDetail(ctx, input.TaskId, 'mini');
    return { MiniTaskInfo: toMiniTask(ctx, task, resource) };
  },
});

export const changeMcubeMiniTaskStatus = defineAction<{ TaskId?: number; PackageId?: number; TaskStatus?: number; BizType?: string }>({
  name: 'ChangeMcubeMiniTaskStatus',
  summary: 'Start, pause, continue or end a mini program release task: 0→1, 0→2, 1→3, 3→1, 1→2, 3→2 (finished is final).',
  tag: TAG,
  input: {
    ...commonInput,
    BizType: S.str('taken as given', 64),
    PackageId: S.int64('package id; when given, must be the task\'s package'),
    TaskId: S.int64('task id'),
    TaskStatus: S.int32('0 to be released, 1 releasing, 2 finished, 3 paused'),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ChangeMiniTaskStatusResult',
  result: changed,
  mutates: true,
  errors: ['InvalidTaskId', 'InvalidPackageId', 'InvalidTaskStatus', 'InvalidTaskStatusChange', 'MiniTaskNotFound', 'ConcurrentChange'],
  handler: async (input, ctx) => {
    const text = (v: number | undefined) => (v === undefined || v === 0 ? undefined : String(v));
    await changeTaskStatus(ctx, { taskId: text(input.TaskId), packageId: text(input.PackageId), taskStatus: input.TaskStatus, bizType: input.BizType }, 'mini');
    return { Data: '' };
  },
});

export const miniActions = [
  createMcubeMiniApp,
  deleteMcubeMiniApp,
  listMcubeMiniApps,
  uploadMcubeMiniPackage,
  listMcubeMiniPackages,
  queryMcubeMiniPackage,
  createMcubeMiniTask,
  createMdsMiniprogramTask,
  listMcubeMiniTasks,
  queryMcubeMiniTask,
  changeMcubeMiniTaskStatus,
];
