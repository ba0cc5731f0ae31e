/**
 * Resolves after the event loop has had a turn (I/O, timers, other requests).
 * better-sqlite3 answers synchronously, so a long job of many statements is
 * otherwise one chain of microtasks that no device check can interrupt.
 */
export const handBack = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
