import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Names of the folders mcube's writers make in MCUBE_WORK_DIR: the janitor
 * removes only those, since an operator may point the setting at a folder that
 * other programs use too (/tmp, a shared volume).
 */
export const WORK_ENTRY_PREFIX = 'mcube-';

/**
 * Removes the entries of `dir` (files or folders) whose modification time is
 * more than `olderThanMs` before `now`: what a killed writer left behind. A
 * writer still at work keeps touching its entry, so the age must only exceed
 * the longest write (the janitor's grace period). With `namePrefix` only
 * entries whose names start with it. Returns how many went; a missing `dir`
 * counts as empty.
 */
export async function sweepStaleEntries(dir: string, olderThanMs: number, now: number, namePrefix = ''): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(namePrefix)) continue;
    const p = join(dir, name);
    const st = await stat(p).catch(() => null);
    if (!st || now - st.mtimeMs < olderThanMs) continue;
    await rm(p, { force: true, recursive: true });
    removed++;
  }
  return removed;
}
