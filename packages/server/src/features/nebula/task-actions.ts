import { defineAction } from '../../core/registry.js';
import { S, commonInput } from '../../core/schema.js';
import { checkTaskInput, type CreateTaskInput } from './rules/task-fields.js';
import { changeTaskStatus, createTask, taskDetail, tasksOfResource } from './task-service.js';
import { taskDetailSchema, taskInfoSchema, toTaskDetail, toTaskInfo } from './task-wire.js';
import { resultWithCode } from './wire-common.js';

const s = (d?: string) => S.str(d, 1024);

export const createMcubeNebulaTask = defineAction<CreateTaskInput>({
  name: 'CreateMcubeNebulaTask',
  summary: 'Create a release task for an offline package: gray (whitelist, time window, percentage) or official; normal or rollback.',
  tag: 'Nebula',
  input: {
    ...commonInput,
    AppCode: s('ignored'),
    BizType: s('nebula (or empty)'),
    Creator: s('ignored'),
    GmtCreate: s('ignored'),
    GmtModified: s('ignored'),
    GmtModifiedStr: s('ignored'),
    GreyConfigInfo: S.str('advanced rules (gray only): JSON array of {ruleElement: city|mobileModel|netType|osVersion|clientVersion (mcube: the installed app version), operation: 1 include|2 exclude|3 within range|4 out of range (versions only), value}', 65536),
    GreyEndtime: s('same as GreyEndtimeData (used when that is empty)'),
    GreyEndtimeData: s('end of the time window (PublishMode 2), "yyyy-MM-dd HH:mm:ss" in the wire zone (MCUBE_WIRE_TIME_ZONE, UTC by default; an explicit zone such as "Z" or "+08:00" may follow), in the future and less than 7 days ahead'),
    GreyEndtimeStr: s('same as GreyEndtimeData (used when that is empty)'),
    GreyNum: S.int32('number of users of a time-window gray release (PublishMode 2)'),
    GreyUrl: s('ignored'),
    Id: S.int64('only 0 (create)'),
    Memo: s('release note'),
    Modifier: s('ignored'),
    PackageId: S.int64('id of the offline package (NebulaResourceId)'),
    Percent: S.int32('1 to 100, percentage gray release (PublishMode 3, an mcube extension)'),
    Platform: s('ignored: the package\'s platform applies'),
    ProductId: s('ignored'),
    ProductVersion: s('ignored'),
    PublishMode: S.int32('gray: 1 whitelist, 2 time window, 3 percentage; official: empty, 0 or 4 (stored as 4)'),
    PublishType: S.int32('2 gray release, 3 official release'),
    ReleaseVersion: s('ignored'),
    ResIds: s('ignored'),
    // a Java serialVersionUID spans the whole signed 64-bit range (e.g. -7060210544600464481); ignored, so any integer passes
    SerialVersionUID: { type: 'integer', format: 'int64', description: 'ignored (any 64-bit integer)' },
    Status: S.int32('ignored'),
    SyncMode: s('ignored'),
    SyncResult: s('ignored'),
    TaskName: s('ignored'),
    TaskStatus: S.int32('1 releasing (default) or 0 to be released'),
    TaskType: S.int32('0 normal (default), 1 rollback: PackageId names the older version to deliver; while it releases it outranks the tasks of newer versions'),
    TaskVersion: S.int64('ignored'),
    UpgradeNoticeNum: S.int64('ignored'),
    UpgradeProgress: s('ignored'),
    WhitelistIds: s('whitelist ids, comma-separated (PublishMode 1)'),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CreateMcubeNebulaTaskResult',
  result: S.obj({ ...resultWithCode, NebulaTaskId: S.str('id of the new task (a string)') }),
  mutates: true,
  errors: [
    'InvalidId', 'InvalidPackageId', 'InvalidBizType', 'InvalidMemo', 'InvalidTaskType', 'InvalidTaskStatus', 'InvalidPublishType', 'InvalidPublishMode',
    'InvalidWhitelistIds', 'InvalidGreyEndtimeData', 'InvalidGreyNum', 'InvalidPercent', 'InvalidGreyConfigInfo', 'NebulaResourceNotFound', 'TooManyTasks',
  ],
  handler: async (input, ctx) => {
    const { id, warning } = await createTask(ctx, checkTaskInput(input, ctx.deps.now()));
    return { NebulaTaskId: String(id), ...(warning ? { ResultMsg: warning } : {}) };
  },
});

export const listMcubeNebulaTasks = defineAction<{ Id?: number }>({
  name: 'ListMcubeNebulaTasks',
  summary: 'List the release tasks of one offline package (Id = package id), newest first; not paged.',
  tag: 'Nebula',
  input: { ...commonInput, Id: S.int64('package id (NebulaResourceId)') },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListMcubeNebulaTaskResult',
  result: S.obj({ ...resultWithCode, NebulaTaskInfo: S.arr(taskInfoSchema) }),
  mutates: false,
  errors: ['InvalidId', 'NebulaResourceNotFound'],
  handler: async (input, ctx) => {
    const { resource, tasks } = await tasksOfResource(ctx, input.Id);
    return { NebulaTaskInfo: tasks.map((t) => toTaskInfo(ctx, t, resource)) };
  },
});

export const getMcubeNebulaTaskDetail = defineAction<{ TaskId?: number }>({
  name: 'GetMcubeNebulaTaskDetail',
  summary: 'Get one release task with its advanced rules and its package\'s download address and release state.',
  tag: 'Nebula',
  input: { ...commonInput, TaskId: S.int64('task id') },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'GetMcubeNebulaTaskDetailResult',
  result: S.obj({ ...resultWithCode, NebulaTaskDetail: taskDetailSchema }),
  mutates: false,
  errors: ['InvalidTaskId', 'NebulaTaskNotFound'],
  handler: async (input, ctx) => {
    const { task, resource } = await taskDetail(ctx, input.TaskId);
    return { NebulaTaskDetail: await toTaskDetail(ctx, task, resource) };
  },
});

export const changeMcubeNebulaTaskStatus = defineAction<{ TaskId?: string; PackageId?: string; TaskStatus?: number; BizType?: string }>({
  name: 'ChangeMcubeNebulaTaskStatus',
  summary: 'Start, pause, continue or end a release task: 0→1, 0→2, 1→3, 3→1, 1→2, 3→2 (finished is final).',
  tag: 'Nebula',
  input: {
    ...commonInput,
    BizType: s('nebula'),
    PackageId: S.str('package id (a string here)', 32),
    TaskId: S.str('task id (a string here)', 32),
    TaskStatus: S.int32('0 to be released, 1 releasing, 2 finished, 3 paused'),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ChangeMcubeNebulaTaskStatusResult',
  result: S.obj(resultWithCode),
  mutates: true,
  errors: ['InvalidTaskId', 'InvalidPackageId', 'InvalidBizType', 'InvalidTaskStatus', 'InvalidTaskStatusChange', 'NebulaTaskNotFound', 'ConcurrentChange'],
  handler: async (input, ctx) => {
    await changeTaskStatus(ctx, { taskId: input.TaskId, packageId: input.PackageId, taskStatus: input.TaskStatus, bizType: input.BizType });
    return {};
  },
});
