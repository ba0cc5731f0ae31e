import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Removes the entries of `dir` (files or folders) whose modification time is
 * more than `olderThanMs` before `now`: what a killed writer left behind. A
 * writer still at work keeps touching its entry, so the age must only exceed
 * the longest write (the janitor's grace period). Returns how many went; a
 * missing `dir` counts as empty.
 */
export async function sweepStaleEntries(dir: string, olderThanMs: number, now: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let removed = 0;
  for (const name of names) {
    const p = join(dir, name);
    const st = await stat(p).catch(() => null);
    if (!st || now - st.mtimeMs < olderThanMs) continue;
    await rm(p, { force: true, recursive: true });
    removed++;
  }
  return removed;
}
