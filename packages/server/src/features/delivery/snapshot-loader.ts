import { downloadWindow } from '../../core/blob-store.js';
import type { Deps } from '../../core/registry.js';
import { num } from '../../db/database.js';
import type { AdmissionCache } from './admissions.js';
import { scopeKey } from './client-keys.js';
import { handBack } from '../../core/hand-back.js';
import { OverlayIdSet, PACKED_FROM, PackedIdSet } from './engine/id-set.js';
import { CHANGE_LOG_KEEP } from '../whitelists/whitelist-store.js';
import { compileWhitelist, snapshotBuilder, whitelistIdsOf, type CompiledWhitelist, type ResourceRow, type Snapshot, type TaskRow } from './snapshot.js';
import { publicFolderUrl } from '../storage/index.js';

/** What a holder keeps between builds so a change to one task does not reload a million-id whitelist or re-sign every URL. */
export interface LoaderCaches {
  /** by list id: the list as read at `version` (type and change_seq) */
  whitelists: Map<number, { version: string; seq: number; compiled: CompiledWhitelist }>;
  urls: Map<string, { url: string; signedAt: number }>;
  /** whole reads of big lists going on in the background, by list id */
  reading: Map<number, Promise<void>>;
  /**
   * Set by an owner that can build again later (a snapshot holder): a big list
   * that must be read whole is then read in the background while the copy held
   * keeps serving, and this is called once the read is in. Without it the load
   * waits for the read.
   */
  onLoaded?: () => void;
}

export interface LoadedSnapshot {
  snapshot: Snapshot;
  /** when the oldest download address should be re-signed (epoch ms), or Infinity */
  refreshAt: number;
}

export const newLoaderCaches = (): LoaderCaches => ({ whitelists: new Map(), urls: new Map(), reading: new Map() });

const ENTRY_PAGE = 10_000;
/** Releasing tasks read per query while a snapshot is built. */
const TASK_PAGE = 1000;
/** Tasks compiled between two turns of the event loop (5,000 tasks took 90-185 ms to compile). */
const BUILD_SLICE = 250;
/** Download addresses signed between two turns of the event loop. */
const SIGN_SLICE = 256;
/**
 * SQLite answers synchronously, so a page read there holds the event loop for
 * as long as it takes: pages are smaller (a few milliseconds each), and the
 * loop is handed back between them.
 */
const SQLITE_ENTRY_PAGE = 2_000;
const SIGN_CONCURRENCY = 16;
/** Retry delay for download addresses that could not be signed. */
const FAILED_URL_RETRY_MS = 5000;

/**
 * The releasing rows of one app/workspace read in keyset pages by id
 * (`page(after, size)`: at most `size` rows with id > after, ordered by id), the
 * loop handed back between pages, with the change stamp read before them. A
 * change committing between two pages could leave them half before and half
 * after it (a task ended in one page, its successor released in the next, both
 * served), where one statement always saw one state. So with more than one
 * page the stamp is read again after the last: if it moved, the pages are read
 * again (three reads at most; then the first stamp is kept, older than the
 * database's, and the next check rebuilds).
 */
export async function readReleasing<T extends { id: unknown }>(
  stampNow: () => Promise<number>,
  page: (after: number, size: number) => Promise<T[]>,
  size: number,
): Promise<{ stamp: number; rows: T[] }> {
  for (let attempt = 1; ; attempt++) {
    const stamp = await stampNow();
    const rows: T[] = [];
    let pages = 0;
    for (let after = 0; ; pages++) {
      const got = await page(after, size);
      for (const r of got) rows.push(r);
      if (got.length < size) break;
      after = num(got[got.length - 1]!.id);
      await handBack();
    }
    if (pages === 0 || attempt === 3 || (await stampNow()) === stamp) return { stamp, rows };
  }
}

/** The change stamp of one app/workspace (0 before the first change). */
export async function readStamp(deps: Deps, appId: string, workspaceId: string): Promise<number> {
  const row = await deps.db.knex('change_stamps').where({ app_id: appId, workspace_id: workspaceId }).first('stamp');
  return row ? num(row.stamp) : 0;
}

/** The change stamps of every workspace of these apps, in one query, by scopeKey(appId, workspaceId); absent means 0. */
export async function readStamps(deps: Pick<Deps, 'db'>, appIds: Iterable<string>): Promise<Map<string, number>> {
  const rows = await deps.db.knex('change_stamps').whereIn('app_id', [...new Set(appIds)]).select('app_id', 'workspace_id', 'stamp');
  const stamps = new Map<string, number>();
  for (const r of rows) stamps.set(scopeKey(String(r.app_id), String(r.workspace_id)), num(r.stamp));
  return stamps;
}

/**
 * Reads everything devices of one app/workspace can get and compiles it. The
 * stamp is read first: a change that commits while the rows are read moves
 * the stamp past the snapshot's, so the next check rebuilds.
 */
export async function loadSnapshot(deps: Deps, appId: string, workspaceId: string, caches: LoaderCaches, admissions: AdmissionCache): Promise<LoadedSnapshot> {
  const { knex } = deps.db;
  const warn = (msg: string, fields: Record<string, unknown>) => deps.log.warn(msg, { appId, workspaceId, ...fields });
  // in pages by task id, the loop handed back between them: SQLite answers synchronously, and the rows of
  // thousands of tasks (then mapping, signing and compiling them) are tens of milliseconds each, which the
  // devices waiting on this node would otherwise wait whole
  const { stamp, rows: raw } = await readReleasing(
    () => readStamp(deps, appId, workspaceId),
    (after, size) =>
      knex('nebula_tasks as t')
        .join('nebula_resources as r', 'r.id', 't.resource_id')
        .where({ 't.app_id': appId, 't.workspace_id': workspaceId, 't.task_status': 1, 'r.app_id': appId, 'r.workspace_id': workspaceId })
        .andWhere('t.id', '>', after)
        .orderBy('t.id')
        .limit(size)
        .select(
          't.id', 't.h5_id', 't.publish_type', 't.publish_mode', 't.task_status', 't.task_type', 't.grey_endtime', 't.grey_num',
          't.grey_admitted', 't.grey_config_info', 't.whitelist_ids', 't.percent', 't.seed', 't.task_version', 't.released_at',
          'r.id as r_id', 'r.h5_id as r_h5_id', 'r.h5_name', 'r.h5_version', 'r.platform', 'r.client_version_min', 'r.client_version_max',
          'r.amr_key', 'r.md5', 'r.file_size', 'r.main_url', 'r.vhost', 'r.auto_install', 'r.install_type', 'r.extend_info', 'r.sub_url',
          'r.resource_type', 'r.fallback_key', 'r.global_pack_url',
        ),
    TASK_PAGE,
  );
  const rows = raw.map(toRows);
  await handBack();

  const whitelists = await loadWhitelists(deps, appId, workspaceId, wantedWhitelists(rows), caches, warn);
  const { urlOf, refreshAt } = await signUrls(deps, rows, caches, warn);
  const vhostRow = await knex('vhosts').where({ app_id: appId, workspace_id: workspaceId }).first('vhost');
  const removedApps = (await knex('removed_h5_apps').where({ app_id: appId, workspace_id: workspaceId }).pluck('h5_id')) as string[];

  await admissions.prepare(
    rows.filter((r) => r.task.publish_type === 2 && r.task.publish_mode === 2).map((r) => ({ id: r.task.id, greyNum: r.task.grey_num, greyAdmitted: r.task.grey_admitted, endTime: r.task.grey_endtime })),
  );
  const builder = snapshotBuilder({
    appId,
    workspaceId,
    stamp,
    builtAt: deps.now(),
    whitelists,
    packageUrl: urlOf,
    fallbackUrl: (folder) => publicFolderUrl(deps.config.storage.downloadBaseUrl, folder),
    vhostDomain: vhostRow ? String(vhostRow.vhost) : '',
    warn,
    removedApps,
  });
  for (let i = 0; i < rows.length; i++) {
    if (i % BUILD_SLICE === 0) await handBack();
    builder.add(rows[i]!);
  }
  const snapshot = builder.done();
  return { snapshot, refreshAt };
}

function toRows(r: Record<string, unknown>): { task: TaskRow; resource: ResourceRow } {
  const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return {
    task: {
      id: num(r.id),
      h5_id: s(r.h5_id),
      publish_type: num(r.publish_type),
      publish_mode: num(r.publish_mode),
      task_status: num(r.task_status),
      task_type: num(r.task_type),
      grey_endtime: r.grey_endtime === null || r.grey_endtime === undefined ? null : num(r.grey_endtime),
      grey_num: num(r.grey_num),
      grey_admitted: num(r.grey_admitted),
      grey_config_info: s(r.grey_config_info),
      whitelist_ids: s(r.whitelist_ids),
      percent: num(r.percent),
      seed: s(r.seed),
      task_version: num(r.task_version),
      released_at: r.released_at === null || r.released_at === undefined ? null : num(r.released_at),
    },
    resource: {
      id: num(r.r_id),
      h5_id: s(r.r_h5_id),
      h5_name: s(r.h5_name),
      h5_version: s(r.h5_version),
      platform: s(r.platform),
      client_version_min: s(r.client_version_min),
      client_version_max: s(r.client_version_max),
      amr_key: s(r.amr_key),
      fallback_key: s(r.fallback_key),
      global_pack_url: s(r.global_pack_url),
      md5: s(r.md5),
      file_size: num(r.file_size),
      main_url: s(r.main_url),
      vhost: s(r.vhost),
      auto_install: num(r.auto_install),
      install_type: num(r.install_type),
      extend_info: s(r.extend_info),
      sub_url: s(r.sub_url),
      resource_type: num(r.resource_type),
    },
  };
}

/** The ids of the whitelists the whitelist-gray tasks among `rows` name. */
function wantedWhitelists(rows: ReadonlyArray<{ task: TaskRow }>): Set<number> {
  const wanted = new Set<number>();
  for (const { task } of rows) if (task.publish_type === 2 && task.publish_mode === 1) for (const id of whitelistIdsOf(task.whitelist_ids)) wanted.add(id);
  return wanted;
}

/**
 * The compiled whitelists of `wanted` (ids of one app/workspace: a list of
 * another scope is never found), big ones packed; a list whose version did
 * not move since the last load comes from `caches`. Also used by the upgrade
 * check for its own tasks.
 */
export async function loadWhitelists(
  deps: Deps,
  appId: string,
  workspaceId: string,
  wanted: ReadonlySet<number>,
  caches: Pick<LoaderCaches, 'whitelists'> & Partial<Pick<LoaderCaches, 'reading' | 'onLoaded'>>,
  warn: (msg: string, fields: Record<string, unknown>) => void,
): Promise<Map<number, CompiledWhitelist>> {
  const out = new Map<number, CompiledWhitelist>();
  if (wanted.size) {
    // scoped by app and workspace: a task can never reach another tenant's list
    const lists = await deps.db.knex('whitelists').where({ app_id: appId, workspace_id: workspaceId }).whereIn('id', [...wanted]).select('id', 'type', 'entry_count', 'change_seq');
    for (const l of lists) {
      const id = num(l.id);
      const type = String(l.type);
      const seq = num(l.change_seq);
      const version = `${type}:${seq}`;
      const cached = caches.whitelists.get(id);
      if (cached && cached.version === version) {
        out.set(id, cached.compiled);
        continue;
      }
      const sameType = cached !== undefined && cached.version.startsWith(`${type}:`);
      const caughtUp = sameType ? await catchUp(deps, id, cached, seq) : null;
      if (caughtUp) {
        deps.metrics.whitelistLoaded('changes');
        caches.whitelists.set(id, { version, seq, compiled: caughtUp });
        out.set(id, caughtUp);
        continue;
      }
      // a background read may have brought the list to this version while the change log was asked
      const now = caches.whitelists.get(id);
      if (now && now.version === version) {
        out.set(id, now.compiled);
        continue;
      }
      const big = type !== 'regex' && num(l.entry_count) >= PACKED_FROM;
      if (sameType && big && caches.onLoaded && caches.reading) {
        // A million ids take about a second to read. Meanwhile the copy held serves, so the snapshot (with a
        // pause or an end of another task) is not held up; once the read is in, the owner builds again.
        readInBackground(deps, id, type, version, seq, num(l.entry_count), caches as LoaderCaches, warn);
        out.set(id, cached.compiled);
        continue;
      }
      const compiled = compileWhitelist(id, type, await loadEntries(deps, id, big ? num(l.entry_count) : null), warn);
      deps.metrics.whitelistLoaded('whole');
      caches.whitelists.set(id, { version, seq, compiled });
      out.set(id, compiled);
    }
  }
  for (const id of caches.whitelists.keys()) if (!out.has(id)) caches.whitelists.delete(id);
  return out;
}

/** Wait before a failed background read of a list is tried again. */
const READ_RETRY_MS = 5000;

/** Reads a big list whole in the background, once at a time per list; `caches.onLoaded` is called when it is in (or failed). */
function readInBackground(
  deps: Deps,
  id: number,
  type: string,
  version: string,
  seq: number,
  entryCount: number,
  caches: LoaderCaches,
  warn: (msg: string, fields: Record<string, unknown>) => void,
): void {
  if (caches.reading.has(id)) return;
  const read = (async () => {
    const compiled = compileWhitelist(id, type, await loadEntries(deps, id, entryCount), warn);
    deps.metrics.whitelistLoaded('whole');
    // a build meanwhile may have brought a newer copy (read in the foreground, or caught up from the log)
    const held = caches.whitelists.get(id);
    if (!held || held.seq <= seq) caches.whitelists.set(id, { version, seq, compiled });
    caches.reading.delete(id);
    caches.onLoaded?.();
  })().catch((err: Error) => {
    warn('whitelist read failed; the copy held keeps serving', { whitelistId: id, error: err.message, retryInMs: READ_RETRY_MS });
    caches.reading.delete(id);
    // the owner builds again (and so reads again) after a pause, not at once: a read that keeps failing
    // must not turn into a loop of whole reads
    setTimeout(() => caches.onLoaded?.(), READ_RETRY_MS).unref();
  });
  caches.reading.set(id, read);
}

/** Most ids added or removed on top of a list read whole before it is read whole again. */
const OVERLAY_MAX = 50_000;

/**
 * A big normal list brought up to `seq` from its change log, or null when
 * it must be read whole: a regex or small list (cheap to read), a gap in the
 * log (a change too big to log, or rows pruned), or too many changes on top
 * of the last whole read. Every node applies the same log in the same order.
 */
async function catchUp(deps: Deps, id: number, cached: { seq: number; compiled: CompiledWhitelist }, seq: number): Promise<CompiledWhitelist | null> {
  const ids = cached.compiled.ids;
  if (!ids || ids.size < PACKED_FROM || seq <= cached.seq || seq - cached.seq > CHANGE_LOG_KEEP) return null;
  const rows: Array<{ seq: unknown; value: string; added: unknown }> = await deps.db
    .knex('whitelist_changes')
    .where({ whitelist_id: id })
    .andWhere('seq', '>', cached.seq)
    .andWhere('seq', '<=', seq)
    .orderBy('seq')
    .select('seq', 'value', 'added');
  if (rows.length !== seq - cached.seq) return null;
  const next = OverlayIdSet.apply(ids, rows.map((r) => ({ value: r.value, added: num(r.added) === 1 })));
  if (next.changes > OVERLAY_MAX) return null;
  return compileWhitelist(id, 'normal', next);
}

/**
 * Entries in pages: a big normal list (`packedCount`: the list's entry_count,
 * null for a plain Set) goes straight into the packed id table, so its
 * million strings never pile up on the JS heap; pages stay small enough to
 * die young. SQLite pages by keyset on the primary key; PostgreSQL reads
 * through a cursor, which needs no ORDER BY (right after a bulk import,
 * before ANALYZE, the planner sorts the whole list for every keyset page).
 */
async function loadEntries(deps: Deps, whitelistId: number, packedCount: number | null): Promise<Set<string> | PackedIdSet> {
  const { knex } = deps.db;
  const packed = packedCount !== null;
  // SQLite: a big list passes through the connection's page cache (better-sqlite3 makes it 16 MB) and would
  // leave it full of pages nothing reads again until the list changes: read it through a small cache instead.
  const small = packed && deps.db.dialect === 'sqlite';
  if (small) await smallCache.enter(knex);
  const set = packed ? null : new Set<string>();
  let builder: ReturnType<typeof PackedIdSet.builder> | null = null;
  try {
    const take = (page: string[]) => {
      if (!packed) {
        for (const v of page) set!.add(v);
        return;
      }
      // sized once from the list's count and the first page's ids (no pass over the list to measure it)
      builder ??= PackedIdSet.builder(expectedSize(page, packedCount));
      for (const v of page) builder.add(v);
    };
    if (deps.db.dialect === 'pg') {
      await knex.transaction(async (trx) => {
        await trx.raw('declare mcube_wl no scroll cursor for select value from whitelist_entries where whitelist_id = ?', [whitelistId]);
        for (;;) {
          const res: { rows: Array<{ value: string }> } = await trx.raw(`fetch ${ENTRY_PAGE} from mcube_wl`);
          take(res.rows.map((r) => r.value));
          if (res.rows.length < ENTRY_PAGE) break;
        }
        await trx.raw('close mcube_wl');
      });
    } else {
      let after: string | null = null;
      for (;;) {
        const q = knex('whitelist_entries').where({ whitelist_id: whitelistId }).orderBy('value').limit(SQLITE_ENTRY_PAGE);
        if (after !== null) q.andWhere('value', '>', after);
        const page: string[] = await q.pluck('value');
        take(page);
        if (page.length < SQLITE_ENTRY_PAGE) break;
        after = page[page.length - 1]!;
        await handBack();
      }
    }
  } finally {
    // before the table is built: the small page cache is the connection's, every statement of the node uses it
    if (small) await smallCache.leave(knex);
  }
  return packed ? (builder ?? PackedIdSet.builder()).finishAsync(handBack) : set!;
}

/** Room for `count` ids as long on average as those of the first page (the builder grows should it be short). */
function expectedSize(first: string[], count: number): { count: number; bytes: number } {
  let bytes = 0;
  for (const v of first) bytes += Buffer.byteLength(v);
  const n = Math.max(count, first.length);
  return { count: n, bytes: Math.ceil((bytes / Math.max(1, first.length)) * n * 1.05) };
}

/** SQLite page cache while a big whitelist is read, KiB. */
const SQLITE_LOAD_CACHE_KIB = 1024;

/**
 * The small SQLite page cache while big lists load (the knex pool has one
 * connection, so the setting is that connection's). Loads for several
 * app/workspaces may overlap: the first sets it, the last restores it.
 */
const smallCache = (() => {
  const states = new WeakMap<object, { loads: number; saved: Promise<number> }>();
  return {
    async enter(knex: Deps['db']['knex']): Promise<void> {
      let st = states.get(knex);
      if (!st) {
        const saved = (async () => {
          const rows: Array<{ cache_size: number }> = await knex.raw('PRAGMA cache_size');
          await knex.raw(`PRAGMA cache_size = ${-SQLITE_LOAD_CACHE_KIB}`);
          return Number(rows[0]?.cache_size ?? -2000);
        })();
        states.set(knex, (st = { loads: 0, saved }));
      }
      st.loads++;
      try {
        await st.saved;
      } catch (err) {
        if (--st.loads === 0) states.delete(knex);
        throw err;
      }
    },
    async leave(knex: Deps['db']['knex']): Promise<void> {
      const st = states.get(knex)!;
      if (--st.loads > 0) return;
      states.delete(knex);
      await knex.raw(`PRAGMA cache_size = ${Math.trunc(await st.saved)}`);
    },
  };
})();

/**
 * Download addresses of the delivered .amr files. A presigned address is
 * re-signed once half its lifetime has passed (the holder schedules a rebuild
 * for that moment), so a device never receives one about to expire. A public
 * or CDN base (MCUBE_DOWNLOAD_BASE_URL) never expires.
 */
async function signUrls(
  deps: Deps,
  rows: ReadonlyArray<{ resource: ResourceRow }>,
  caches: LoaderCaches,
  warn: (msg: string, fields: Record<string, unknown>) => void,
): Promise<{ urlOf: (key: string) => string | null; refreshAt: number }> {
  const now = deps.now();
  const expiring = !deps.config.storage.downloadBaseUrl;
  // links are signed per window, the same on every node (downloadWindow): renewed when the window moves on
  const window = downloadWindow(now, deps.config.storage.downloadUrlTtlSec);
  const keys = [...new Set(rows.map((r) => r.resource.amr_key))];
  const stale = keys.filter((k) => {
    const c = caches.urls.get(k);
    return !c || (expiring && c.signedAt < window.signedAt);
  });
  let failed = 0;
  for (let i = 0; i < stale.length; i += SIGN_CONCURRENCY) {
    if (i > 0 && i % SIGN_SLICE === 0) await handBack();
    await Promise.all(
      stale.slice(i, i + SIGN_CONCURRENCY).map(async (key) => {
        try {
          caches.urls.set(key, { url: await deps.blobs.downloadUrl(key), signedAt: window.signedAt });
        } catch (err) {
          caches.urls.delete(key);
          if (failed++ === 0) warn('download address unavailable', { key, error: (err as Error).message });
        }
      }),
    );
  }
  const live = new Set(keys);
  for (const k of caches.urls.keys()) if (!live.has(k)) caches.urls.delete(k);
  return {
    urlOf: (key) => caches.urls.get(key)?.url ?? null,
    refreshAt: failed > 0 ? now + FAILED_URL_RETRY_MS : expiring && caches.urls.size > 0 ? window.renewAt : Infinity,
  };
}
