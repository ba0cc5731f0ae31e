/** The release state shown on a package (ListMcubeNebulaResources.PublishPeriod). */
export const PUBLISH_PERIOD = { initial: 0, whitelistGray: 1, gray: 2, official: 3, rollback: 4, finished: 5 } as const;

export interface TaskState {
  publishType: number;
  publishMode: number;
  taskType: number;
  taskStatus: number;
}

/**
 * A package's publish period follows its tasks, strongest releasing task
 * first: an official (non-rollback) task releasing → 3; else a rollback task
 * releasing → 4; else a time-window or percentage gray task → 2; else a
 * whitelist gray task → 1; with none releasing, the paused tasks are read
 * the same way (a paused release is still in that period, not back at its
 * start: the guide shows "the release status of the latest task"); else 5 when
 * every task is finished; else 0 (no task, or only tasks to be released).
 */
export function publishPeriodOf(tasks: TaskState[]): number {
  let releasing = tasks.filter((t) => t.taskStatus === 1);
  if (releasing.length === 0) releasing = tasks.filter((t) => t.taskStatus === 3);
  if (releasing.some((t) => t.taskType === 0 && t.publishType === 3)) return PUBLISH_PERIOD.official;
  if (releasing.some((t) => t.taskType === 1)) return PUBLISH_PERIOD.rollback;
  if (releasing.some((t) => t.publishMode === 2 || t.publishMode === 3)) return PUBLISH_PERIOD.gray;
  if (releasing.some((t) => t.publishMode === 1)) return PUBLISH_PERIOD.whitelistGray;
  if (tasks.length > 0 && tasks.every((t) => t.taskStatus === 2)) return PUBLISH_PERIOD.finished;
  return PUBLISH_PERIOD.initial;
}
