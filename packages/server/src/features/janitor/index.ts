import { sweepStaleEntries, WORK_ENTRY_PREFIX } from '../../core/stale-files.js';
import { claimForPurge, forgetPurged } from '../../db/blob-registry.js';
import type { Deps } from '../../core/registry.js';

export interface JanitorReport {
  pendingSwept: number;
  deletedSwept: number;
  orphansSwept: number;
  uploadsSwept: number;
  /** leftovers of killed writers: local-store temp files and package work folders */
  tempSwept: number;
}

/**
 * Removes stored objects that no committed row points at (see db/blob-registry.ts):
 * reservations older than the grace period (their writer crashed or failed),
 * objects whose rows were deleted, objects under pkg/ with no registry row at
 * all, and temporary uploads past their retention. Idempotent, so every node
 * may run it.
 */
export async function runJanitor(deps: Deps): Promise<JanitorReport> {
  const { knex } = deps.db;
  const t = deps.now();
  const grace = deps.config.janitor.graceSec * 1000;
  const report: JanitorReport = { pendingSwept: 0, deletedSwept: 0, orphansSwept: 0, uploadsSwept: 0, tempSwept: 0 };
  const drop = async (key: string) => {
    await deps.blobs.delete(key).catch((e: Error) => deps.log.warn('janitor delete failed', { key, error: e.message }));
  };
  const stale = await knex('blobs')
    .where((q) =>
      q
        .where('state', 'deleted')
        // a writer or a remover that died: its reservation or claim is old
        .orWhere((q2) => q2.whereIn('state', ['pending', 'purging']).andWhere('created_at', '<=', t - grace)),
    )
    .select('key', 'state')
    .limit(10_000);
  for (const row of stale) {
    if (row.state === 'deleted') {
      // claimed first: a writer that took the key over since the list was read keeps its new object
      if (!(await claimForPurge(knex, row.key, t))) continue;
      await drop(row.key);
      await forgetPurged(knex, row.key);
      report.deletedSwept++;
      continue;
    }
    await drop(row.key);
    // Only remove the row if it is still in the state we swept (a writer may have committed meanwhile).
    await knex('blobs').where({ key: row.key, state: row.state }).del();
    if (row.state === 'pending') report.pendingSwept++;
    else report.deletedSwept++;
  }
  for await (const obj of deps.blobs.list('pkg/')) {
    if (obj.lastModified !== undefined && obj.lastModified > t - grace) continue;
    const row = await knex('blobs').where({ key: obj.key }).first('state');
    if (!row) {
      await drop(obj.key);
      report.orphansSwept++;
    }
  }
  const keepUploads = deps.config.janitor.uploadRetentionSec * 1000;
  for await (const obj of deps.blobs.list('uploads/')) {
    if (obj.lastModified !== undefined && obj.lastModified <= t - keepUploads) {
      await drop(obj.key);
      report.uploadsSwept++;
    }
  }
  // a package build works in a folder under workDir and a local write in blobs/.tmp; a killed node leaves them behind
  report.tempSwept += (await deps.blobs.sweepTemp?.(grace)) ?? 0;
  report.tempSwept += await sweepStaleEntries(deps.config.packages.workDir, grace, deps.now(), WORK_ENTRY_PREFIX);
  if (report.pendingSwept + report.deletedSwept + report.orphansSwept + report.uploadsSwept + report.tempSwept > 0) deps.log.info('janitor swept', { ...report });
  return report;
}

export function startJanitor(deps: Deps): { stop(): void } {
  const every = deps.config.janitor.intervalSec * 1000;
  if (every <= 0) return { stop: () => {} };
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    runJanitor(deps)
      .catch((e: Error) => deps.log.warn('janitor run failed', { error: e.message }))
      .finally(() => {
        running = false;
      });
  }, every);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
