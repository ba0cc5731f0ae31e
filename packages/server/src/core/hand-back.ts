/**
 * Resolves after the event loop has had a turn (I/O, timers, other requests).
 * better-sqlite3 answers synchronously, so a long job of many statements is
 * otherwise one chain of microtasks that no device check can interrupt.
 *
 * Two nested setImmediate, not one: an immediate queued from the poll phase
 * (a request handler, an I/O callback) runs in the check phase of the same
 * loop iteration, before any timer or other socket gets its turn; the second
 * one is queued from the check phase and so runs only after the next poll.
 */
export const handBack = (): Promise<void> => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
