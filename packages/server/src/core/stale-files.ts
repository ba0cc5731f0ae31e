import { readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Names of the folders mcube's writers make in MCUBE_WORK_DIR: the janitor
 * removes only those, since an operator may point the setting at a folder that
 * other programs use too (/tmp, a shared volume).
 */
export const WORK_ENTRY_PREFIX = 'mcube-';

/** Folders this process is working in: its own janitor never sweeps them, whatever their age. */
const live = new Set<string>();

/**
 * Marks `path` as in use until the returned function is called. A writer working below `path` (a build writing into a
 * subfolder) leaves the folder's own modification time alone, so the folder is also touched every `touchEveryMs`:
 * another process's janitor sharing the folder judges it by that time.
 */
export function holdEntry(path: string, touchEveryMs: number): () => void {
  live.add(path);
  const timer = setInterval(() => {
    const t = new Date();
    utimes(path, t, t).catch(() => {});
  }, touchEveryMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    live.delete(path);
  };
}

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
    if (live.has(p)) continue;
    const st = await stat(p).catch(() => null);
    if (!st || now - st.mtimeMs < olderThanMs) continue;
    await rm(p, { force: true, recursive: true });
    removed++;
  }
  return removed;
}
