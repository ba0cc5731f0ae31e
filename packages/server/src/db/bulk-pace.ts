import { handBack } from '../core/hand-back.js';
import { CHECKPOINT_EVERY_MS } from './checkpointer.js';

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
export async function betweenChunks(dialect: 'sqlite' | 'pg', chunk: number): Promise<void> {
  if (dialect === 'sqlite' && chunk % CHUNKS_PER_PAUSE === 0) await new Promise((resolve) => setTimeout(resolve, CHECKPOINT_EVERY_MS + 50));
  else await handBack();
}
