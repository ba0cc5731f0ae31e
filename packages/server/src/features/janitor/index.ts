import { sweepStaleEntries, WORK_ENTRY_PREFIX } from '../../core/stale-files.js';
import { claimForPurge, claimOrphan, claimStale, folderOf, forgetPurged } from '../../db/blob-registry.js';
import { removeStored } from '../storage/blob-cleanup.js';
import type { Deps } from '../../core/registry.js';
import { betweenChunks } from '../../db/bulk-pace.js';
import { periodic, type Periodic } from '../../core/periodic.js';

export interface JanitorReport {
  pendingSwept: number;
  deletedSwept: number;
  orphansSwept: number;
  uploadsSwept: number;
  /** leftovers of killed writers: local-store temp files and package work folders */
  tempSwept: number;
  /** audit rows past MCUBE_AUDIT_RETENTION_DAYS */
  auditSwept: number;
}

/**
 * Removes stored objects that no committed row points at (see db/blob-registry.ts):
 * reservations older than the grace period (their writer crashed or failed),
 * objects whose rows were deleted, objects under pkg/ with no registry row at
 * all, temporary uploads past their retention, and audit rows past theirs.
 * Idempotent, so every node may run it. Once `signal` is aborted (the node
 * is stopping) it ends at the next object or chunk and reports what it did.
 */
export async function runJanitor(deps: Deps, signal?: AbortSignal): Promise<JanitorReport> {
  const { knex } = deps.db;
  const t = deps.now();
  const grace = deps.config.janitor.graceSec * 1000;
  const report: JanitorReport = { pendingSwept: 0, deletedSwept: 0, orphansSwept: 0, uploadsSwept: 0, tempSwept: 0, auditSwept: 0 };
  /** how many objects went (a folder row stands for many) */
  const drop = (key: string): Promise<number> =>
    removeStored(deps.blobs, key).catch((e: Error) => {
      deps.log.warn('janitor delete failed', { key, error: e.message });
      return 0;
    });
  const stale = await knex('blobs')
    .where((q) =>
      q
        .where('state', 'deleted')
        // a writer or a remover that died: its reservation or claim is old
        .orWhere((q2) => q2.whereIn('state', ['pending', 'purging']).andWhere('created_at', '<=', t - grace)),
    )
    .select('key', 'state')
    .limit(10_000);
  const stopped = () => signal?.aborted === true;
  for (const row of stale) {
    if (stopped()) return report;
    if (row.state === 'deleted') {
      // claimed first: a writer that took the key over since the list was read keeps its new object
      if (!(await claimForPurge(knex, row.key, t))) continue;
      await drop(row.key);
      await forgetPurged(knex, row.key);
      report.deletedSwept++;
      continue;
    }
    // claimed first, in one conditional statement: a build that committed since the list was read keeps its
    // objects, and one that commits after this claim fails (its reservation is gone) instead of pointing at nothing
    if (!(await claimStale(knex, row.key, row.state, t - grace, t))) continue;
    await drop(row.key);
    await forgetPurged(knex, row.key);
    if (row.state === 'pending') report.pendingSwept++;
    else report.deletedSwept++;
  }
  // objects no row points at, looked up a thousand at a time (one query per object was minutes a run with 600k packages)
  let keys: string[] = [];
  // fallback folders with no row, removed whole at their first object (the rest of it is not claimed one by one)
  const orphanFolders = new Set<string>();
  const sweepOrphans = async () => {
    // an object under a folder row (a package's fallback copy) is that row's
    const folders = [...new Set(keys.map(folderOf).filter((f): f is string => f !== null))];
    const known = new Set((await knex('blobs').whereIn('key', [...keys, ...folders]).pluck('key')) as string[]);
    for (const key of keys) {
      if (stopped()) break;
      const folder = folderOf(key);
      if (known.has(key) || (folder !== null && (known.has(folder) || orphanFolders.has(folder)))) continue;
      // claimed by inserting its row: a writer that reserved the key since the batch was read keeps it, and one
      // that comes after cannot take a key being purged
      const claimed = folder ?? key;
      if (!(await claimOrphan(knex, claimed, t))) continue;
      if (folder !== null) orphanFolders.add(folder);
      report.orphansSwept += await drop(claimed);
      await forgetPurged(knex, claimed);
    }
    keys = [];
  };
  for await (const obj of deps.blobs.list('pkg/')) {
    if (stopped()) return report;
    if (obj.lastModified !== undefined && obj.lastModified > t - grace) continue;
    keys.push(obj.key);
    if (keys.length === 1000) await sweepOrphans();
  }
  if (keys.length) await sweepOrphans();
  if (stopped()) return report;
  const keepUploads = deps.config.janitor.uploadRetentionSec * 1000;
  for await (const obj of deps.blobs.list('uploads/')) {
    if (stopped()) return report;
    if (obj.lastModified !== undefined && obj.lastModified <= t - keepUploads) {
      await drop(obj.key);
      report.uploadsSwept++;
    }
  }
  report.auditSwept = await sweepAudit(deps.db, deps.config.janitor.auditRetentionDays, t, signal);
  if (stopped()) return report;
  // a package build works in a folder under workDir and a local write in blobs/.tmp; a killed node leaves them behind
  report.tempSwept += (await deps.blobs.sweepTemp?.(grace)) ?? 0;
  report.tempSwept += await sweepStaleEntries(deps.config.packages.workDir, grace, deps.now(), WORK_ENTRY_PREFIX);
  if (report.pendingSwept + report.deletedSwept + report.orphansSwept + report.uploadsSwept + report.tempSwept + report.auditSwept > 0) deps.log.info('janitor swept', { ...report });
  return report;
}

/**
 * Deletes audit rows older than the retention, oldest first, a range of ids at
 * a time: ids grow with time, so every statement walks the primary key only
 * (a filter on created_at alone would scan the table), and each is short.
 */
async function sweepAudit(db: Deps['db'], days: number, now: number, signal: AbortSignal | undefined, chunk = 5000): Promise<number> {
  const { knex } = db;
  if (days <= 0) return 0;
  const before = now - days * 86_400_000;
  let swept = 0;
  for (let n = 1; ; n++) {
    const oldest = await knex('audit_log').orderBy('id').first('id', 'created_at');
    if (!oldest || Number(oldest.created_at) >= before) return swept;
    swept += await knex('audit_log').where('id', '<', Number(oldest.id) + chunk).andWhere('created_at', '<', before).del();
    if (!(await betweenChunks(db, n, signal))) return swept;
  }
}

/** The janitor every MCUBE_JANITOR_INTERVAL_SEC on this node (off at 0); stop() ends a run in flight (core/periodic.ts). */
export function startJanitor(deps: Deps): Periodic {
  return periodic(deps.config.janitor.intervalSec * 1000, (signal) => runJanitor(deps, signal), (e) => deps.log.warn('janitor run failed', { error: e.message }));
}
