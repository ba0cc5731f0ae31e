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
 */
export async function betweenChunks(db: Pick<Database, 'checkpointing'>, chunk: number): Promise<void> {
  // without the thread (the admin command) SQLite checkpoints at every 1,000 pages itself, and nobody waits on it
  if (db.checkpointing && chunk % CHUNKS_PER_PAUSE === 0) await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_EVERY_MS + 50));
  else await handBack();
}
