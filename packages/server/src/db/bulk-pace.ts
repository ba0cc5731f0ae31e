import { handBack } from '../core/hand-back.js';
import { CHECKPOINT_EVERY_MS } from './checkpointer.js';
import type { Database } from './database.js';

/** Chunks a background bulk job writes between two pauses for the checkpointer. */
const CHUNKS_PER_PAUSE = 20;

/**
 * Between the chunks of a background bulk job of many short transactions (the
 * nonce and audit sweeps). SQLite's log (WAL) only starts over once the
 * checkpointer thread has copied all of it back; a job that commits back to
 * back never lets it, the log outgrows the backstop (wal_autocheckpoint), and
 * from then on the committing connection runs the checkpoint itself, on the
 * event loop: stalls of 110-186 ms. So every CHUNKS_PER_PAUSE chunks the job
 * waits longer than one checkpoint interval; otherwise it hands the loop back.
 *
 * False when `signal` is aborted (the node is stopping), at once, without
 * waiting out the pause: the job must then end without another statement,
 * as the database is about to be closed.
 */
export async function betweenChunks(db: Pick<Database, 'checkpointing'>, chunk: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  // without the thread (the admin command) SQLite checkpoints at every 1,000 pages itself, and nobody waits on it
  if (db.checkpointing && chunk % CHUNKS_PER_PAUSE === 0) await pause(CHECKPOINT_EVERY_MS + 50, signal);
  else await handBack();
  return !signal?.aborted;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
