/**
 * A background job a node runs every `everyMs` (the nonce sweep, the
 * janitor): never two runs at once, a failure logged and retried at the next
 * tick. stop() aborts the signal handed to the run in flight and waits for it
 * to end, so a shutdown closes the database only after the last statement of
 * the job; the job checks the signal between its chunks (db/bulk-pace.ts).
 */
export interface Periodic {
  /** Starts a run now unless one is running; resolves when that run ends. */
  runNow(): Promise<void>;
  stop(): Promise<void>;
}

export function periodic(everyMs: number, job: (signal: AbortSignal) => Promise<unknown>, onError: (err: Error) => void): Periodic {
  const stopping = new AbortController();
  let running: Promise<void> | null = null;
  const runNow = (): Promise<void> => {
    if (stopping.signal.aborted) return Promise.resolve();
    running ??= job(stopping.signal)
      .then(
        () => {},
        (e: Error) => onError(e),
      )
      .finally(() => {
        running = null;
      });
    return running;
  };
  const timer = everyMs > 0 ? setInterval(() => void runNow(), everyMs) : null;
  timer?.unref();
  return {
    runNow,
    async stop() {
      if (timer) clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}
