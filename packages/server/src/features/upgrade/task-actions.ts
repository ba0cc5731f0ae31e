import { BusinessError } from '../../core/errors.js';
import { defineAction } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { checkUpgradeTaskInput, type CreateUpgradeTaskInput } from './rules/task-fields.js';
import { createUpgradeTask, tasksOfPackage, upgradeTaskDetail } from './task-service.js';
import { mdsTaskContentSchema, taskInfoSchema, taskListItemSchema, toMdsTaskContent, toTaskInfo, toTaskListItem } from './task-wire.js';
import { whitelistsByIds } from './upgrade-store.js';

const TAG = 'Upgrade';
const resultWithCode = { ...resultBase, ErrorCode: S.str(), RequestId: S.str() };
const idsOf = (csv: string) => (csv.match(/\d+/g) ?? []).map(Number);

export const createMcubeUpgradeTask = defineAction<CreateUpgradeTaskInput>({
  name: 'CreateMcubeUpgradeTask',
  summary: 'Create a release task for an upgrade package: gray (whitelist or time window, with advanced rules) or official, with its upgrade mode (202, 204, 206).',
  tag: TAG,
  input: {
    ...commonInput,
    GreyConfigInfo: S.str('advanced rules (gray only): JSON array of {ruleElement: city|mobileModel|netType|osVersion|clientVersion (mcube: the installed app version), operation: 1 include|2 exclude|3 within range|4 out of range (versions only), value}', 65536),
    GreyEndtimeData: S.str('end of the time window (PublishMode 2), "yyyy-MM-dd HH:mm:ss" in the wire zone (MCUBE_WIRE_TIME_ZONE, UTC by default; an explicit zone such as "Z" or "+08:00" may follow), in the future and less than 7 days ahead', 64),
    GreyNum: S.int32('number of users of a time-window gray release (PublishMode 2)'),
    HistoryForce: S.int32('0 (default) or 1; stored and shown'),
    Memo: S.str('release description, at most 1024 characters', 4096),
    PackageInfoId: S.int64('id of the upgrade package'),
    PublishMode: S.int32('gray: 1 whitelist, 2 time window; official: empty, 0 or 4 (stored as 4)'),
    PublishType: S.int32('2 gray release, 3 official release (enterprise and TestFlight packages: gray only)'),
    UpgradeContent: S.str('upgrade prompt shown to users, at most 2000 characters', 8192),
    UpgradeType: S.int32('upgrade mode: 202 single reminder (once per silence period), 204 multiple reminders, 206 forced upgrade (not for TestFlight)'),
    WhitelistIds: S.str('whitelist ids, comma-separated (PublishMode 1; enterprise packages need it)', 1024),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CreateTaskResult',
  result: S.obj({ ...resultWithCode, upgradeTaskId: S.str('id of the new task, a string; lower-case u on the wire') }),
  mutates: true,
  errors: [
    'InvalidPackageInfoId', 'InvalidUpgradeType', 'InvalidHistoryForce', 'InvalidMemo', 'InvalidUpgradeContent', 'InvalidPublishType', 'InvalidPublishMode', 'InvalidWhitelistIds',
    'InvalidGreyEndtimeData', 'InvalidGreyNum', 'InvalidGreyConfigInfo', 'UpgradePackageNotFound', 'TooManyTasks',
  ],
  handler: async (input, ctx) => {
    const { id } = await createUpgradeTask(ctx, checkUpgradeTaskInput(input, ctx.deps.now()));
    return { upgradeTaskId: String(id) };
  },
});

export const listMcubeUpgradeTasks = defineAction<{ PackageId?: string }>({
  name: 'ListMcubeUpgradeTasks',
  summary: 'List the release tasks of one upgrade package (PackageId, a string here), newest first; not paged.',
  tag: TAG,
  input: { ...commonInput, PackageId: S.str('package id (a string here)', 32) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListTaskResult',
  result: S.obj({ ...resultWithCode, TaskInfo: S.arr(taskListItemSchema) }),
  mutates: false,
  errors: ['InvalidPackageId', 'UpgradePackageNotFound'],
  handler: async (input, ctx) => {
    const { pkg, tasks } = await tasksOfPackage(ctx, input.PackageId);
    return { TaskInfo: tasks.map((t) => toTaskListItem(ctx, t, pkg)) };
  },
});

export const getMcubeUpgradeTaskInfo = defineAction<{ TaskId?: number }>({
  name: 'GetMcubeUpgradeTaskInfo',
  summary: 'Get one upgrade release task with its advanced rules and whitelists.',
  tag: TAG,
  input: { ...commonInput, TaskId: S.int64('task id') },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'GetTaskResult',
  result: S.obj({ ...resultWithCode, TaskInfo: taskInfoSchema }),
  mutates: false,
  errors: ['InvalidTaskId', 'UpgradeTaskNotFound'],
  handler: async (input, ctx) => {
    const { task, pkg } = await upgradeTaskDetail(ctx, input.TaskId);
    const lists = await whitelistsByIds(ctx.deps.db.knex, ctx, idsOf(task.whitelistIds));
    return { TaskInfo: await toTaskInfo(ctx, task, pkg, lists) };
  },
});

export const queryMdsUpgradeTaskDetail = defineAction<{ TaskId: number }>({
  name: 'QueryMdsUpgradeTaskDetail',
  summary: 'Get one upgrade release task in the MDS form (rules spread into CityContains, MobileModelExcludes, ...), inside ResultContent.Data.Content.',
  tag: TAG,
  input: { ...commonInput, TaskId: S.int64('task id (required)') },
  required: ['AppId', 'WorkspaceId', 'TaskId'],
  resultKey: 'ResultContent',
  result: S.obj({
    Data: S.obj({ Content: mdsTaskContentSchema, ErrorCode: S.str(), RequestId: S.str(), ResultMsg: S.str(), Success: S.bool() }),
    RequestId: S.str(),
    ...resultBase,
  }),
  mutates: false,
  errors: ['InvalidTaskId', 'UpgradeTaskNotFound'],
  handler: async (input, ctx) => {
    try {
      const { task, pkg } = await upgradeTaskDetail(ctx, input.TaskId);
      const lists = await whitelistsByIds(ctx.deps.db.knex, ctx, idsOf(task.whitelistIds));
      return { Data: { Content: await toMdsTaskContent(ctx, task, pkg, lists), ErrorCode: '', RequestId: ctx.requestId, ResultMsg: '', Success: true } };
    } catch (err) {
      // This action reports its status in ResultContent.Data; keep it there on failure too.
      if (err instanceof BusinessError) throw new BusinessError(err.code, err.message, { Data: { ErrorCode: err.code, RequestId: ctx.requestId, ResultMsg: err.message, Success: false } });
      throw err;
    }
  },
});
