import { BusinessError } from '../../../core/errors.js';

/**
 * Allowed task status changes: 0 to be released, 1 releasing, 2 finished
 * (final), 3 paused. Everything else, including leaving 2 or "changing" to
 * the same status, is refused.
 */
const ALLOWED: ReadonlySet<string> = new Set(['0>1', '0>2', '1>3', '3>1', '1>2', '3>2']);
const NAMES = ['to be released', 'releasing', 'finished', 'paused'];

export function checkStatusChange(from: number, to: number): void {
  if (![0, 1, 2, 3].includes(to)) throw new BusinessError('InvalidTaskStatus', `TaskStatus: ${to} is not one of 0 (to be released), 1 (releasing), 2 (finished), 3 (paused).`);
  if (!ALLOWED.has(`${from}>${to}`)) {
    const why = from === 2 ? 'a finished task is final; create a new task to release again' : 'allowed changes are 0->1, 0->2, 1->3, 3->1, 1->2 and 3->2';
    throw new BusinessError('InvalidTaskStatusChange', `TaskStatus: cannot change a task from ${from} (${NAMES[from]}) to ${to} (${NAMES[to]}); ${why}.`);
  }
}
