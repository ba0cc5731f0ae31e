import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Runs in the worker: its own connection, PASSIVE checkpoints only (they never
// take the write lock, so the event loop's writers are never made to wait).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (e) { parentPort.postMessage(String(e && e.message || e)); }
};
const timer = setInterval(tick, workerData.everyMs);
parentPort.on('message', () => { clearInterval(timer); tick(); db.close(); parentPort.close(); });
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/** How often the checkpointer thread copies the log back into the database file, ms. */
export const CHECKPOINT_EVERY_MS = 200;

/**
 * SQLite in WAL mode with synchronous=NORMAL never fsyncs on commit, only when
 * a checkpoint copies the log back into the database file. Left to itself the
 * committing connection runs that checkpoint (and its fsyncs) inline, which on
 * a slow disk stalls the event loop for milliseconds at a time. This worker
 * thread checkpoints on its own connection instead; the main connection keeps
 * a large automatic checkpoint only as a backstop should the worker fall behind.
 */
export function startCheckpointer(file: string, onError: (msg: string) => void, everyMs = CHECKPOINT_EVERY_MS): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { file, driver, everyMs } });
  worker.on('message', (m: string) => onError(m));
  worker.on('error', (e) => onError(e.message));
  worker.unref();
  let exited = false;
  const gone = new Promise<void>((resolve) => worker.once('exit', () => ((exited = true), resolve())));
  return {
    stop: () => {
      if (!exited) {
        // held while it stops: unreferenced, a worker still starting up let the process end before it did
        // (exit code 13, the awaited close never settled)
        worker.ref();
        worker.postMessage('stop');
      }
      return gone;
    },
  };
}
