import type { Knex } from 'knex';
import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';
import { bumpStamp } from '../../db/stamps.js';
import { WORDS, type Kind } from './kinds.js';
import { existingWhitelistIds, getResource, getResourceOfKind, getTask, getTaskOfKind, insertTask, listTasks, listVersions, setPublishPeriod, updateTaskStatus } from './nebula-store.js';
import type { NebulaResource, NebulaTask } from './nebula-types.js';
import { invalid, parseId, shown } from './rules/field-error.js';
import { publishPeriodOf } from './rules/publish-period.js';
import type { TaskSpec } from './rules/task-fields.js';
import { checkStatusChange } from './rules/task-status.js';
import { compareVersions } from './rules/version.js';

/** "Up to 10 release tasks are allowed for one upgrade package concurrently" (guide §4.3): tasks not finished. */
export const MAX_OPEN_TASKS = 10;

const notFound = (kind: Kind, field: string, id: number | string) =>
  new BusinessError(WORDS[kind].packageNotFound, `${field}: no ${WORDS[kind].pkg} ${id} in this app and workspace.`);
const taskNotFound = (kind: Kind, taskId: number, why = 'in this app and workspace') =>
  new BusinessError(WORDS[kind].taskNotFound, `TaskId: no release task ${taskId} ${why}.`);

async function lockedResource(trx: Knex.Transaction, ctx: ActionContext, kind: Kind, id: number, field: string): Promise<NebulaResource> {
  const res = await getResourceOfKind(trx, ctx, kind, id, ctx.deps.db.dialect === 'pg');
  if (!res) throw notFound(kind, field, id);
  return res;
}

async function refreshPeriod(trx: Knex.Transaction, ctx: ActionContext, resourceId: number, now: number): Promise<void> {
  await setPublishPeriod(trx, resourceId, publishPeriodOf(await listTasks(trx, ctx, resourceId)), now);
}

/** Creates a release task; the package's publish period and the delivery stamp move in the same transaction. */
export async function createTask(ctx: ActionContext, spec: TaskSpec, kind: Kind = 'nebula'): Promise<{ id: number; warning: string }> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  const now = deps.now();
  let warning = '';
  const id = await knex.transaction(async (trx) => {
    const res = await lockedResource(trx, ctx, kind, spec.packageId, 'PackageId');
    if (spec.whitelistIds.length) {
      const found = await existingWhitelistIds(trx, ctx, spec.whitelistIds, dialect === 'pg');
      const missing = spec.whitelistIds.filter((w) => !found.has(w));
      if (missing.length) throw invalid('WhitelistIds', `no whitelist ${missing.join(', ')} in this app and workspace.`);
    }
    if (spec.taskType === 1) {
      const newer = (await listVersions(trx, ctx, res.h5Id)).filter((v) => compareVersions(v.h5Version, res.h5Version) > 0);
      if (!newer.length) {
        throw invalid('TaskType', `a rollback task (1) delivers an older version, but package ${res.id} (version ${res.h5Version}) is the newest of H5 app ${res.h5Id}.`);
      }
    }
    const open = (await listTasks(trx, ctx, res.id)).filter((t) => t.taskStatus !== 2).length;
    if (open >= MAX_OPEN_TASKS) {
      throw new BusinessError('TooManyTasks', `PackageId: package ${res.id} already has ${open} tasks that are not finished; at most ${MAX_OPEN_TASKS} are allowed, end one first.`);
    }
    const id = await insertTask(trx, ctx, {
      resourceId: res.id,
      h5Id: res.h5Id,
      publishType: spec.publishType,
      publishMode: spec.publishMode,
      taskStatus: spec.taskStatus,
      taskType: spec.taskType,
      greyEndtime: spec.greyEndtime,
      greyNum: spec.greyNum,
      greyConfigInfo: spec.greyConfigInfo,
      whitelistIds: spec.whitelistIds.join(','),
      percent: spec.percent,
      // the package's, not the task's: no action changes a task's Percent, so a percentage is raised by ending the
      // task and creating another for the same package, which then buckets users as the first did and only adds
      // users (tasks made before this kept the random seed they were given)
      seed: `pkg:${res.id}`,
      memo: spec.memo,
      platform: res.platform,
      taskVersion: now,
      releaseVersion: res.releaseVersion,
      createdAt: now,
      modifiedAt: now,
    });
    await refreshPeriod(trx, ctx, res.id, now);
    await bumpStamp(trx, dialect, ctx.appId, ctx.workspaceId);
    if (spec.taskType === 0) {
      // a releasing rollback outranks every task of its H5 app for the devices it matches (delivery README,
      // "Ranking"): a fix released meanwhile reaches none of them until the rollback is ended, which the caller
      // should hear now. Told when the two packages share a platform; whitelists, ranges and rules may narrow it.
      const rollbacks = await trx('nebula_tasks')
        .where({ app_id: ctx.appId, workspace_id: ctx.workspaceId, h5_id: res.h5Id, task_type: 1, task_status: 1 })
        .select('id', 'platform');
      const mine = res.platform.toLowerCase();
      const rollback = rollbacks.find((r) => {
        const theirs = String(r.platform).toLowerCase();
        return mine === 'all' || theirs === 'all' || mine === theirs;
      });
      if (rollback) {
        warning = `Rollback task ${rollback.id} of ${res.h5Id} is releasing and outranks this task for the devices it matches: they get the rolled-back version until it is ended (TaskStatus 2).`;
      }
    }
    return id;
  });
  deps.onDeliveryChange(ctx.appId, ctx.workspaceId);
  return { id, warning };
}

/** Moves a task along 0→1, 0→2, 1→3, 3→1, 1→2, 3→2; PackageId, when given, must be the task's package. */
export async function changeTaskStatus(
  ctx: ActionContext,
  input: { taskId?: string; packageId?: string; taskStatus?: number; bizType?: string },
  kind: Kind = 'nebula',
): Promise<void> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  const taskId = parseId('TaskId', input.taskId, true)!;
  const packageId = parseId('PackageId', input.packageId, false);
  // the vendor documents no BizType value for mini programs; theirs is taken as given
  if (kind === 'nebula' && input.bizType && input.bizType.trim() && input.bizType.trim() !== 'nebula') throw invalid('BizType', `${shown(input.bizType)} is not allowed; use nebula.`);
  if (input.taskStatus === undefined) throw invalid('TaskStatus', 'is required: 0 (to be released), 1 (releasing), 2 (finished) or 3 (paused).');
  const to = input.taskStatus;
  const now = deps.now();
  await knex.transaction(async (trx) => {
    const seen = await getTaskOfKind(trx, ctx, kind, taskId);
    if (!seen) throw taskNotFound(kind, taskId);
    if (packageId !== null && packageId !== seen.resourceId) throw invalid('PackageId', `${packageId} is not the package of task ${taskId} (${seen.resourceId}).`);
    await lockedResource(trx, ctx, kind, seen.resourceId, 'PackageId');
    // read again under the package's lock (PostgreSQL): a change committed while this request waited for the lock
    // is what this one moves on from (an end after a pause is valid), instead of both failing on a stale status
    const task = await getTask(trx, ctx, taskId);
    if (!task) throw taskNotFound(kind, taskId, 'any more: it was deleted meanwhile');
    checkStatusChange(task.taskStatus, to);
    if (!(await updateTaskStatus(trx, task.id, task.taskStatus, to, now))) {
      throw new BusinessError('ConcurrentChange', `TaskStatus: task ${taskId} was changed by another request meanwhile; read it again and retry.`);
    }
    await refreshPeriod(trx, ctx, task.resourceId, now);
    await bumpStamp(trx, dialect, ctx.appId, ctx.workspaceId);
  });
  deps.onDeliveryChange(ctx.appId, ctx.workspaceId);
}

export async function tasksOfResource(ctx: ActionContext, resourceId: number | undefined, kind: Kind = 'nebula'): Promise<{ resource: NebulaResource; tasks: NebulaTask[] }> {
  if (!resourceId) throw invalid('Id', `is required: the id of the ${WORDS[kind].pkg} whose tasks are listed.`);
  const { knex } = ctx.deps.db;
  const resource = await getResourceOfKind(knex, ctx, kind, resourceId);
  if (!resource) throw notFound(kind, 'Id', resourceId);
  return { resource, tasks: await listTasks(knex, ctx, resourceId) };
}

export async function taskDetail(ctx: ActionContext, taskId: number | undefined, kind: Kind = 'nebula'): Promise<{ resource: NebulaResource; task: NebulaTask }> {
  if (!taskId) throw invalid('TaskId', 'is required.');
  const { knex } = ctx.deps.db;
  const task = await getTaskOfKind(knex, ctx, kind, taskId);
  if (!task) throw taskNotFound(kind, taskId);
  // read apart from the task: an H5 app deleted in between takes both
  const resource = await getResource(knex, ctx, task.resourceId);
  if (!resource) throw taskNotFound(kind, taskId, 'any more: it was deleted with its package');
  return { resource, task };
}
