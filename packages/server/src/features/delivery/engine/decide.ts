import type { TaskPlan } from '../snapshot.js';
import { selectForApp, type Admission, type AppDecision, type DeviceCheck } from './select.js';
import type { Version } from './versions.js';

/** How the engine reaches the time-window admissions (admissions.ts in the server, a Map in tests). */
export interface AdmissionPort {
  verdict(task: TaskPlan, userKey: string): Admission;
  /** decides an 'unknown' user; afterwards verdict() answers 'admitted' or 'rejected' */
  admit(task: TaskPlan, userKey: string): Promise<void>;
}

/**
 * The decision for one H5 app: selectForApp, admitting the user whenever the
 * winner is a time-window task that has not decided this user yet, then
 * selecting again. Synchronous work only unless an admission is needed. A
 * task whose admission fails (database error) counts as not matching for this
 * request, so a check never loops.
 */
export async function decideApp(
  plans: readonly TaskPlan[],
  d: DeviceCheck,
  installed: Version | null,
  installedText: string,
  port: AdmissionPort,
  onAdmitError?: (task: TaskPlan, err: Error) => void,
): Promise<AppDecision> {
  let failed: Set<number> | null = null;
  const verdict = (t: TaskPlan, u: string): Admission => (failed !== null && failed.has(t.id) ? 'rejected' : port.verdict(t, u));
  let decision = selectForApp(plans, d, installed, installedText, verdict);
  while (decision.kind === 'admit') {
    const task = decision.task;
    try {
      await port.admit(task, d.userKey);
    } catch (err) {
      onAdmitError?.(task, err as Error);
    }
    if (port.verdict(task, d.userKey) === 'unknown') (failed ??= new Set()).add(task.id);
    decision = selectForApp(plans, d, installed, installedText, verdict);
  }
  return decision;
}
