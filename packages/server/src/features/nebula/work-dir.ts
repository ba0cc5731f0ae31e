import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Deps } from '../../core/registry.js';
import { holdEntry, WORK_ENTRY_PREFIX } from '../../core/stale-files.js';

/** Runs `fn` with a private temporary folder under config.packages.workDir, removed afterwards whatever happens. */
export async function withWorkDir<T>(deps: Deps, prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(deps.config.packages.workDir, { recursive: true });
  const dir = await mkdtemp(join(deps.config.packages.workDir, WORK_ENTRY_PREFIX + prefix));
  // a build longer than the janitor's grace: its folder is not swept from under it (a third of the grace, at most a minute)
  const release = holdEntry(dir, Math.max(1000, Math.min(60_000, (deps.config.janitor.graceSec * 1000) / 3)));
  try {
    return await fn(dir);
  } finally {
    release();
    await rm(dir, { recursive: true, force: true }).catch((e: Error) => deps.log.warn('work dir cleanup failed', { dir, error: e.message }));
  }
}
