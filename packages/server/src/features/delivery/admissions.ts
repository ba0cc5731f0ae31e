import { handBack } from '../../core/hand-back.js';
import type { Logger } from '../../core/logger.js';
import type { Database } from '../../db/database.js';
import type { Admission } from './engine/select.js';
import type { TaskPlan } from './snapshot.js';
import { ownCopy } from './text-cache.js';

interface TaskAdmissions {
  /** users this node knows to be admitted (loaded at first sight, then grown on admission) */
  admitted: Set<string>;
  /** the task holds GreyNum users and `admitted` is the whole, final set */
  complete: boolean;
  loading: Promise<void> | null;
  /** a second load of the set after the end time, for admissions other nodes committed late (ENDED_SETTLE_MS) */
  settle: NodeJS.Timeout | null;
  /** raised whenever a snapshot shows the task with room: a "full" verdict begun before it is stale */
  gen: number;
}

/** New users of one task waiting for the next batch (see flush). */
interface AdmitQueue {
  task: TaskPlan;
  state: TaskAdmissions;
  waiting: Array<{ userKey: string; resolve: () => void; reject: (err: unknown) => void }>;
  scheduled: boolean;
  running: boolean;
}

/** Most users admitted in one transaction. */
const ADMIT_BATCH = 2000;

/** Where admissions live: the admission rows and the tasks holding grey_num / grey_admitted / grey_endtime / task_status. */
export interface AdmissionTables {
  admissions: string;
  tasks: string;
}

/** Offline-package tasks (the default); upgrade tasks use upgrade_admissions / upgrade_tasks, with the same columns. */
export const NEBULA_ADMISSION_TABLES: AdmissionTables = { admissions: 'grey_admissions', tasks: 'nebula_tasks' };

/**
 * Admitted users read per query when a task's set is loaded. SQLite answers
 * synchronously: a page there holds the event loop (every device check of the
 * node) for as long as it takes, so pages are small and the loop is handed
 * back between them; a million admitted users read in 50,000-row pages held
 * it for 1.4 s.
 */
const PAGE = { sqlite: 2_000, pg: 10_000 } as const;
/** Tasks whose sets prepare() loads between two turns of the event loop. */
const PREPARE_SLICE = 64;
/**
 * Past a task's end time each node stops admitting by its own clock, so a node
 * whose clock runs behind may still commit an admission after this node loaded
 * the "final" set. The set is loaded once more this long after the end time;
 * an admission committed by a node up to this far behind is then seen here too
 * (before, this node refused that user for good while the other served him).
 */
export const ENDED_SETTLE_MS = 10_000;

/**
 * Time-window gray admissions of one app/workspace. The database is the
 * authority: a unique (task, user) row in grey_admissions plus the counter
 * nebula_tasks.grey_admitted, raised by a conditional UPDATE only while it is
 * below grey_num, in the same transaction, so two nodes never over-admit.
 * This node caches what it has seen: an admitted user costs nothing on later
 * checks, and once a task is full its final set is loaded once, so the users
 * left out are answered from memory too. Only a NEW user of a task that still
 * has room costs a database write.
 */
export class AdmissionCache {
  private readonly tasks = new Map<number, TaskAdmissions>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
    private readonly log: Logger,
    private readonly tables: AdmissionTables = NEBULA_ADMISSION_TABLES,
    private readonly settleMs = ENDED_SETTLE_MS,
  ) {}

  /** Synchronous verdict for the engine; 'unknown' means: call admit() and ask again. */
  readonly verdict = (task: TaskPlan, userKey: string): Admission => {
    if (userKey === '' || task.greyNum <= 0) return 'rejected';
    const s = this.tasks.get(task.id);
    if (s) {
      if (s.admitted.has(userKey)) return 'admitted';
      if (s.complete) return 'rejected';
    }
    return 'unknown';
  };

  /**
   * Called by every snapshot build with the releasing time-window tasks:
   * loads the admitted users of a task seen for the first time, loads the
   * final set of a task that is full or past its end time, forgets tasks that
   * no longer release.
   */
  async prepare(tasks: ReadonlyArray<{ id: number; greyNum: number; greyAdmitted: number; endTime: number | null }>): Promise<void> {
    const live = new Set<number>();
    const now = this.now();
    let loaded = 0;
    for (const t of tasks) {
      live.add(t.id);
      let s = this.tasks.get(t.id);
      const ended = t.endTime !== null && t.endTime > 0 && now >= t.endTime;
      const full = t.greyAdmitted >= t.greyNum || ended;
      if (!s) {
        const state: TaskAdmissions = (s = { admitted: new Set(), complete: false, loading: null, settle: null, gen: 0 });
        this.tasks.set(t.id, state);
        // While the set loads (in pages, the loop handed back between them) device checks of the task wait for it
        // (tryAdmit, markFull) instead of writing admissions or starting a second load of the same set; their
        // promise never rejects, a failed load reaches prepare's caller.
        const load = (async () => {
          try {
            // a workspace seen for the first time may have a thousand time-window tasks, a query each
            if (++loaded % PREPARE_SLICE === 0) await handBack();
            await this.loadAll(t.id, state);
          } finally {
            state.loading = null;
          }
        })();
        state.loading = load.catch(() => {});
        await load;
        s.complete = full;
        this.settleAfter(t.id, s, t.endTime);
      } else if (full && !s.complete) {
        await this.markFull(t.id, s, t.endTime);
      } else if (!full) {
        // GreyNum was raised (or the end time moved): the set may grow again, also if a load that
        // was started when the task looked full ends after this (it must not mark it complete)
        s.gen++;
        s.complete = false;
      }
    }
    for (const [id, s] of this.tasks) if (!live.has(id)) this.forget(id, s);
  }

  /** Forgets every task (the snapshot store is closing): no settle timer outlives it. */
  clear(): void {
    for (const [id, s] of this.tasks) this.forget(id, s);
  }

  private forget(id: number, s: TaskAdmissions): void {
    if (s.settle) clearTimeout(s.settle);
    this.tasks.delete(id);
  }

  /** Tries to admit a user the cache has no verdict for; afterwards verdict() knows. Concurrent calls for one user share one attempt. */
  admit(task: TaskPlan, userKey: string): Promise<void> {
    const key = task.id + '\u0000' + userKey;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.tryAdmit(task, userKey).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async tryAdmit(task: TaskPlan, userKey: string): Promise<void> {
    let s = this.tasks.get(task.id);
    if (!s) {
      s = { admitted: new Set(), complete: false, loading: null, settle: null, gen: 0 };
      this.tasks.set(task.id, s);
    }
    if (s.loading) return s.loading;
    if (s.admitted.has(userKey) || s.complete) return;
    // after the end time nobody new is admitted: the set is final, as when the task is full
    if (task.endTime !== null && this.now() >= task.endTime) return this.markFull(task.id, s, task.endTime);
    return new Promise<void>((resolve, reject) => {
      let q = this.queues.get(task.id);
      if (!q) {
        q = { task, state: s, waiting: [], scheduled: false, running: false };
        this.queues.set(task.id, q);
      }
      q.task = task;
      q.state = s;
      q.waiting.push({ userKey, resolve, reject });
      this.schedule(q);
    });
  }

  private readonly queues = new Map<number, AdmitQueue>();

  private schedule(q: AdmitQueue): void {
    if (q.scheduled || q.running) return;
    q.scheduled = true;
    setImmediate(() => {
      q.scheduled = false;
      void this.flush(q);
    });
  }

  /**
   * The new users of one task that asked during one event-loop turn are
   * admitted in one transaction: every node's requests for a task otherwise
   * queue one by one on the task row's lock (the audit measured 181
   * admissions a second for a whole cluster). Under that lock the free slots
   * are read and the first users in arrival order take them; the rows of the
   * users beyond the last slot are removed again in the same transaction.
   */
  private async flush(q: AdmitQueue): Promise<void> {
    q.running = true;
    const batch = q.waiting.splice(0, ADMIT_BATCH);
    const { task, state: s } = q;
    let full = false;
    try {
      const admitted = await this.admitBatch(task.id, batch.map((w) => w.userKey));
      for (const u of admitted) s.admitted.add(ownCopy(u));
      full = admitted.length < batch.length;
    } catch (err) {
      for (const w of batch) w.reject(err);
      batch.length = 0;
    } finally {
      q.running = false;
      if (q.waiting.length) this.schedule(q);
      else if (this.queues.get(task.id) === q) this.queues.delete(task.id);
    }
    if (full) await this.markFull(task.id, s, task.endTime);
    for (const w of batch) w.resolve();
  }

  /** The users (in order) that hold a slot of the task after this call: admitted now, or before. */
  private async admitBatch(taskId: number, users: string[]): Promise<string[]> {
    const now = this.now();
    const { knex, dialect } = this.db;
    const { admissions, tasks } = this.tables;
    return knex.transaction(async (trx) => {
      // The task row first, locked for the whole batch. PostgreSQL: FOR NO KEY UPDATE, as the UPDATE below
      // takes it; the admission rows' foreign key takes KEY SHARE on the same row, which FOR UPDATE would
      // conflict with (two nodes' batches deadlocked). SQLite: the write transaction (BEGIN IMMEDIATE) orders them.
      const q = trx(tasks)
        .where({ id: taskId, task_status: 1 })
        .andWhere((w) => w.whereNull('grey_endtime').orWhere('grey_endtime', 0).orWhere('grey_endtime', '>', now))
        .first('grey_admitted', 'grey_num');
      const row = await (dialect === 'pg' ? q.forNoKeyUpdate() : q);
      if (!row) {
        // not releasing, past its end, or deleted by another node since this node's snapshot: no room for anyone
        // new, and no rows to write (for a deleted task the foreign key would refuse each batch); who was admitted keeps it
        const had = new Set<string>();
        for (let i = 0; i < users.length; i += 400) {
          const rows: Array<{ user_key: string }> = await trx(admissions).where({ task_id: taskId }).whereIn('user_key', users.slice(i, i + 400)).select('user_key');
          for (const r of rows) had.add(r.user_key);
        }
        return users.filter((u) => had.has(u));
      }
      const fresh = new Set<string>();
      for (let i = 0; i < users.length; i += 400) {
        const rows = users.slice(i, i + 400).map((u) => ({ task_id: taskId, user_key: u, created_at: now }));
        const inserted: Array<{ user_key: string }> = await trx(admissions).insert(rows).onConflict(['task_id', 'user_key']).ignore().returning('user_key');
        for (const r of inserted) fresh.add(r.user_key);
      }
      // every stored key must be one asked with (the device parser refuses what a database would change)
      const asked = new Set(users);
      for (const k of fresh) if (!asked.has(k)) throw new Error(`admission key stored as ${JSON.stringify(k)} matches no key asked with`);
      // already admitted (by this or another node): they keep the package and take no second slot
      if (fresh.size === 0) return users;
      const room = Math.max(0, Number(row.grey_num) - Number(row.grey_admitted));
      const ordered = users.filter((u) => fresh.has(u));
      const taken = ordered.slice(0, room);
      const surplus = ordered.slice(room);
      if (taken.length) await trx(tasks).where({ id: taskId }).increment('grey_admitted', taken.length);
      for (let i = 0; i < surplus.length; i += 400) await trx(admissions).where({ task_id: taskId }).whereIn('user_key', surplus.slice(i, i + 400)).delete();
      const kept = new Set(taken);
      return users.filter((u) => !fresh.has(u) || kept.has(u));
    });
  }

  /**
   * The task is full (or past its end time): its admitted set is final, so
   * load it once and answer everybody else from memory; a task past its end
   * time has its set loaded once more when late admissions have settled.
   */
  private markFull(taskId: number, s: TaskAdmissions, endTime: number | null): Promise<void> {
    if (!s.loading) {
      const gen = s.gen;
      s.loading = this.loadAll(taskId, s)
        .then(() => {
          if (s.gen !== gen) return;
          s.complete = true;
          this.settleAfter(taskId, s, endTime);
        })
        .catch((err: Error) => this.log.warn('loading admitted users failed', { taskId, error: err.message }))
        .finally(() => {
          s.loading = null;
        });
    }
    return s.loading;
  }

  /** Once a task is past its end time: one more load of its set when late admissions from other nodes have settled. */
  private settleAfter(taskId: number, s: TaskAdmissions, endTime: number | null): void {
    if (s.settle || endTime === null || endTime <= 0) return;
    const now = this.now();
    const wait = endTime + this.settleMs - now;
    if (now < endTime || wait <= 0) return;
    s.settle = setTimeout(() => {
      if (this.tasks.get(taskId) !== s) return;
      this.loadAll(taskId, s).catch((err: Error) => this.log.warn('reloading admitted users failed', { taskId, error: err.message }));
    }, wait);
    s.settle.unref();
  }

  private async loadAll(taskId: number, s: TaskAdmissions): Promise<void> {
    const page = PAGE[this.db.dialect];
    let after: string | null = null;
    for (;;) {
      const q = this.db.knex(this.tables.admissions).where({ task_id: taskId }).orderBy('user_key').limit(page).select('user_key');
      if (after !== null) q.andWhere('user_key', '>', after);
      const rows: Array<{ user_key: string }> = await q;
      for (const r of rows) s.admitted.add(r.user_key);
      if (rows.length < page) return;
      after = rows[rows.length - 1]!.user_key;
      await handBack();
    }
  }
}
