import type { Knex } from 'knex';
import { BusinessError } from '../../core/errors.js';
import type { ActionContext } from '../../core/registry.js';
import { bumpStamp } from '../../db/stamps.js';
import { existingWhitelistIds } from '../nebula/nebula-store.js';
import { invalid, shown } from '../nebula/rules/field-error.js';
import { publishPeriodOf } from '../nebula/rules/publish-period.js';
import { MAX_OPEN_TASKS } from '../nebula/task-service.js';
import { packageNotFound, parsePackageId } from './package-service.js';
import { UPGRADE_TYPE_NAMES, type UpgradeTaskSpec } from './rules/task-fields.js';
import { getPackage, getTask, insertTask, listTasks, setPublishPeriod } from './upgrade-store.js';
import type { Database } from '../../db/database.js';
import type { Scope, UpgradePackage, UpgradeTask } from './upgrade-types.js';

const TYPE_NAMES: Record<string, string> = { enterprise: 'iOS enterprise distribution', testflight: 'iOS TestFlight' };

/** What the guide (§4.4) allows per distribution type. */
function checkFitsPackage(p: UpgradePackage, spec: UpgradeTaskSpec): void {
  if ((p.packageType === 'enterprise' || p.packageType === 'testflight') && spec.publishType !== 2) {
    throw invalid('PublishType', `${TYPE_NAMES[p.packageType]} packages support gray releases (2) only.`);
  }
  if (p.packageType === 'enterprise' && spec.publishMode !== 1) {
    throw invalid('PublishMode', `${TYPE_NAMES[p.packageType]} packages support whitelist gray releases (1) only.`);
  }
  if (p.packageType === 'testflight' && spec.upgradeType === 206) {
    throw invalid('UpgradeType', `${UPGRADE_TYPE_NAMES[206]} (206) is not available for TestFlight packages; use 202 or 204.`);
  }
  // a time window can admit no more testers than the TestFlight link takes (its tester limit in App Store Connect)
  if (p.packageType === 'testflight' && spec.publishMode === 2 && spec.greyNum > p.installAmount) {
    throw invalid('GreyNum', `${spec.greyNum} is more than the ${p.installAmount} testers this TestFlight package takes (InstallAmount).`);
  }
}

/**
 * The time windows of one TestFlight package share its tester limit (InstallAmount): the
 * testers an ended window admitted, and those an open one may still admit, are seats
 * taken. (Whitelist tasks are not counted: their lists change after the task is made.)
 */
function checkTesterSeats(p: UpgradePackage, tasks: UpgradeTask[], greyNum: number, now: number): void {
  let taken = 0;
  for (const t of tasks) {
    if (t.publishMode !== 2) continue;
    const ended = t.taskStatus === 2 || (t.greyEndtime !== null && t.greyEndtime <= now);
    taken += ended ? t.greyAdmitted : Math.max(t.greyNum, t.greyAdmitted);
  }
  if (taken + greyNum > p.installAmount) {
    throw invalid('GreyNum', `${greyNum} more testers do not fit: this TestFlight package takes ${p.installAmount} (InstallAmount) and its time-window tasks already hold ${taken}.`);
  }
}

async function refreshPeriod(trx: Knex.Transaction, s: Scope, packageId: number, now: number): Promise<void> {
  const tasks = (await listTasks(trx, s, packageId)).map((t) => ({ ...t, taskType: 0 }));
  await setPublishPeriod(trx, packageId, publishPeriodOf(tasks), now);
}

/**
 * Creates a release task (releasing from the start: the API has no status
 * change for upgrade tasks); the package's publish period and the delivery
 * stamp move in the same transaction.
 */
export async function createUpgradeTask(ctx: ActionContext, spec: UpgradeTaskSpec): Promise<{ id: number }> {
  const { deps } = ctx;
  const { knex, dialect } = deps.db;
  const now = deps.now();
  const id = await knex.transaction(async (trx) => {
    const p = await getPackage(trx, ctx, spec.packageId, dialect === 'pg');
    if (!p) throw packageNotFound('PackageInfoId', spec.packageId);
    checkFitsPackage(p, spec);
    if (spec.whitelistIds.length) {
      const found = await existingWhitelistIds(trx, ctx, spec.whitelistIds, dialect === 'pg');
      const missing = spec.whitelistIds.filter((w) => !found.has(w));
      if (missing.length) throw invalid('WhitelistIds', `no whitelist ${missing.join(', ')} in this app and workspace.`);
    }
    const tasks = await listTasks(trx, ctx, p.id);
    const open = tasks.filter((t) => t.taskStatus !== 2).length;
    if (open >= MAX_OPEN_TASKS) {
      throw new BusinessError('TooManyTasks', `PackageInfoId: package ${p.id} already has ${open} tasks that are not finished; at most ${MAX_OPEN_TASKS} are allowed.`);
    }
    if (p.packageType === 'testflight' && spec.publishMode === 2) checkTesterSeats(p, tasks, spec.greyNum, now);
    const id = await insertTask(trx, ctx, {
      packageId: p.id,
      platform: p.platform,
      publishType: spec.publishType,
      publishMode: spec.publishMode,
      taskStatus: 1,
      upgradeType: spec.upgradeType,
      historyForce: spec.historyForce,
      greyEndtime: spec.greyEndtime,
      greyNum: spec.greyNum,
      greyConfigInfo: spec.greyConfigInfo,
      whitelistIds: spec.whitelistIds.join(','),
      memo: spec.memo,
      upgradeContent: spec.upgradeContent,
      creator: ctx.accessKeyId,
      createdAt: now,
      modifiedAt: now,
    });
    await refreshPeriod(trx, ctx, p.id, now);
    await bumpStamp(trx, dialect, ctx.appId, ctx.workspaceId);
    return id;
  });
  deps.onDeliveryChange(ctx.appId, ctx.workspaceId);
  return { id };
}

export async function tasksOfPackage(ctx: ActionContext, rawId: string | undefined): Promise<{ pkg: UpgradePackage; tasks: UpgradeTask[] }> {
  const id = parsePackageId('PackageId', rawId);
  const { knex } = ctx.deps.db;
  const pkg = await getPackage(knex, ctx, id);
  if (!pkg) throw packageNotFound('PackageId', id);
  return { pkg, tasks: await listTasks(knex, ctx, id) };
}

export async function upgradeTaskDetail(ctx: ActionContext, taskId: number | undefined): Promise<{ pkg: UpgradePackage; task: UpgradeTask }> {
  if (taskId === undefined) throw invalid('TaskId', 'is required: the id of the upgrade task.');
  if (taskId === 0) throw invalid('TaskId', `${shown(String(taskId))} is not a task id.`);
  const { knex } = ctx.deps.db;
  const task = await getTask(knex, ctx, taskId);
  if (!task) throw new BusinessError('UpgradeTaskNotFound', `TaskId: no upgrade task ${taskId} in this app and workspace.`);
  // read apart from the task: a package deleted in between takes its tasks with it
  const pkg = await getPackage(knex, ctx, task.packageId);
  if (!pkg) throw new BusinessError('UpgradeTaskNotFound', `TaskId: upgrade task ${taskId} was deleted with its package.`);
  return { pkg, task };
}

export type UpgradeTaskMove = 'pause' | 'continue' | 'end';

const MOVES: Record<UpgradeTaskMove, { from: readonly number[]; to: number }> = {
  pause: { from: [1], to: 3 },
  continue: { from: [3], to: 1 },
  end: { from: [1, 3], to: 2 },
};
/** Task status names, as the console shows them (upgrade tasks start releasing; 0 only for completeness). */
export const UPGRADE_TASK_STATUS_NAMES: Record<number, string> = { 0: 'to be released', 1: 'releasing', 2: 'finished', 3: 'paused' };

/**
 * The console's Pause, Continue and End of an upgrade task (guide §4.3: "after
 * task B is terminated or suspended, task A takes effect"). The OpenAPI has no
 * action for them, so the admin command runs this. Finished is final. The
 * package row is locked as task creation locks it, and the publish period and
 * the delivery stamp move in the same transaction. Returns the task as it is now.
 */
export async function moveUpgradeTask(db: Database, s: Scope, taskId: number, move: UpgradeTaskMove, now: number): Promise<UpgradeTask> {
  return db.knex.transaction(async (trx) => {
    const found = await getTask(trx, s, taskId);
    if (!found) throw new BusinessError('UpgradeTaskNotFound', `no upgrade task ${taskId} in ${s.appId}/${s.workspaceId}.`);
    await getPackage(trx, s, found.packageId, db.dialect === 'pg');
    const task = (await getTask(trx, s, taskId))!;
    const { from, to } = MOVES[move];
    if (!from.includes(task.taskStatus)) {
      throw new BusinessError('InvalidTaskStatus', `upgrade task ${taskId} is ${UPGRADE_TASK_STATUS_NAMES[task.taskStatus] ?? task.taskStatus}; ${move} applies to a ${from.map((f) => UPGRADE_TASK_STATUS_NAMES[f]).join(' or ')} task.`);
    }
    await trx('upgrade_tasks').where({ app_id: s.appId, workspace_id: s.workspaceId, id: taskId }).update({ task_status: to, modified_at: now });
    await refreshPeriod(trx, s, task.packageId, now);
    await bumpStamp(trx, db.dialect, s.appId, s.workspaceId);
    return { ...task, taskStatus: to, modifiedAt: now };
  });
}
