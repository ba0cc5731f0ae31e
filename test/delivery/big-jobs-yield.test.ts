// better-sqlite3 answers synchronously: a job over hundreds of thousands of rows
import type { Knex } from 'knex';
// run as one statement, or as a chain of awaited queries, freezes the whole
// node (device checks, health checks, every call) until it ends. These jobs
// must give the event loop turns while they run; an immediate that counts the
// loop's iterations stands for the requests waiting on the node. (On PostgreSQL the queries are
// asynchronous and the loop turns anyway; the results must hold on both.)
import { describe, expect, it, vi } from 'vitest';
import { AdmissionCache } from '../../packages/server/src/features/delivery/admissions.js';
import { loadSnapshot, newLoaderCaches } from '../../packages/server/src/features/delivery/snapshot-loader.js';
import { deleteAppCascade, listResources } from '../../packages/server/src/features/nebula/nebula-store.js';
import { DELETE_CHUNK } from '../../packages/server/src/db/delete-rows.js';
import { listPackages } from '../../packages/server/src/features/upgrade/upgrade-store.js';
import { bump, DEFAULT_SCOPE, insertResource, insertTask } from '../helpers/delivery-fixtures.js';
import { useTestServer } from '../helpers/suite.js';
import { turnsDuring } from '../helpers/turns.js';

const suite = useTestServer();

async function admit(taskId: number, n: number, prefix: string) {
  const { knex } = suite.srv.node.deps.db;
  const rows = Array.from({ length: n }, (_, i) => ({ task_id: taskId, user_key: `${prefix}-${i}`, created_at: 1 }));
  for (let i = 0; i < rows.length; i += 400) await knex('grey_admissions').insert(rows.slice(i, i + 400));
}

describe('jobs over many rows hand the event loop back', () => {
  it('loading a time-window task with thousands of admitted users: the set is whole', async () => {
    const { deps } = suite.srv.node;
    const r = await insertResource(deps.db.knex, { h5_id: '66660001', h5_version: '1.0' });
    const task = await insertTask(deps.db.knex, r, { publish_type: 2, publish_mode: 2, grey_num: 100_000, grey_endtime: Date.now() + 3_600_000 });
    await admit(task.id, 12_000, 'seen');
    const cache = new AdmissionCache(deps.db, deps.now, deps.log);
    try {
      const { turns } = await turnsDuring(() => cache.prepare([{ id: task.id, greyNum: 100_000, greyAdmitted: 12_000, endTime: Date.now() + 3_600_000 }]));
      expect(turns).toBeGreaterThanOrEqual(3);
      const plan = { id: task.id, greyNum: 100_000 } as Parameters<AdmissionCache['verdict']>[0];
      expect(cache.verdict(plan, 'seen-0')).toBe('admitted');
      expect(cache.verdict(plan, 'seen-11999')).toBe('admitted');
      expect(cache.verdict(plan, 'seen-12000')).toBe('unknown');
    } finally {
      cache.clear();
    }
  });

  it('a device check of a task whose set is still loading waits for that load instead of loading it again', async () => {
    const { deps } = suite.srv.node;
    const ended = Date.now() - 60_000;
    const r = await insertResource(deps.db.knex, { h5_id: '66660004', h5_version: '1.0' });
    const task = await insertTask(deps.db.knex, r, { publish_type: 2, publish_mode: 2, grey_num: 100_000, grey_endtime: ended });
    await admit(task.id, 12_000, 'early');
    const cache = new AdmissionCache(deps.db, deps.now, deps.log);
    const loads = vi.spyOn(cache as unknown as { loadAll: (...a: unknown[]) => Promise<void> }, 'loadAll');
    try {
      const preparing = cache.prepare([{ id: task.id, greyNum: 100_000, greyAdmitted: 12_000, endTime: ended }]);
      // the first pages are in; a user nobody has seen asks meanwhile (the task has ended: the set is final)
      await new Promise((r) => setImmediate(r));
      const plan = { id: task.id, greyNum: 100_000, endTime: ended } as Parameters<AdmissionCache['admit']>[0];
      await Promise.all([preparing, cache.admit(plan, 'late-comer'), cache.admit(plan, 'early-11999')]);
      expect(loads).toHaveBeenCalledTimes(1);
      expect(cache.verdict(plan, 'late-comer')).toBe('rejected');
      expect(cache.verdict(plan, 'early-11999')).toBe('admitted');
    } finally {
      cache.clear();
    }
  });

  it('deleting an H5 app whose task admitted thousands of users: its admissions go, another app keeps its own', async () => {
    const { deps } = suite.srv.node;
    const { knex, dialect } = deps.db;
    const gone = await insertTask(knex, await insertResource(knex, { h5_id: '66660002', h5_version: '1.0' }), { publish_type: 2, publish_mode: 2, grey_num: 100_000 });
    const kept = await insertTask(knex, await insertResource(knex, { h5_id: '66660003', h5_version: '1.0' }), { publish_type: 2, publish_mode: 2, grey_num: 100_000 });
    await admit(gone.id, 3 * DELETE_CHUNK + 10, 'gone');
    await admit(kept.id, 50, 'kept');
    const count = async (taskId: number) => Number((await knex('grey_admissions').where({ task_id: taskId }).count({ n: '*' }))[0]!.n);

    const { turns } = await turnsDuring(() => knex.transaction((trx) => deleteAppCascade(trx, dialect, DEFAULT_SCOPE, '66660002', Date.now())));
    expect(turns).toBeGreaterThanOrEqual(2);
    expect(await count(gone.id)).toBe(0);
    expect(await knex('nebula_tasks').where({ id: gone.id }).first('id')).toBeUndefined();
    expect(await count(kept.id)).toBe(50);
  });
});

describe('package lists page a big workspace in index order', () => {
  it('newest first, and on SQLite without sorting the workspace in a temporary B-tree (the node waits for that statement)', async () => {
    const { deps } = suite.srv.node;
    const { knex, dialect } = deps.db;
    const made: number[] = [];
    for (let i = 0; i < 30; i++) made.push((await insertResource(knex, { h5_id: '66660010', h5_version: `2.0.${i}` })).id);
    const page = await listResources(knex, DEFAULT_SCOPE, 'nebula', '', 5, 10);
    const newest = (await knex('nebula_resources').where({ app_id: DEFAULT_SCOPE.appId, workspace_id: DEFAULT_SCOPE.workspaceId }).orderBy('id', 'desc').pluck('id')).map(Number);
    expect(page.resources.map((r) => r.id)).toEqual(newest.slice(5, 15));
    expect(page.total).toBe(newest.length);
    expect(newest.slice(0, 30).reverse()).toEqual(made);
    if (dialect === 'sqlite') {
      // the statements the stores run (listResources for offline packages and mini programs, listPackages), as they
      // run them: each list page and its count walks an index in order, never a sort of the whole workspace
      const statements = async (run: () => Promise<unknown>) => {
        const seen: Array<{ sql: string; bindings: readonly Knex.Value[] }> = [];
        const onQuery = (q: { sql: string; bindings?: readonly Knex.Value[] }) => void seen.push({ sql: q.sql, bindings: q.bindings ?? [] });
        knex.on('query', onQuery);
        try {
          await run();
        } finally {
          knex.off('query', onQuery);
        }
        return seen;
      };
      const plans = async (run: () => Promise<unknown>) => {
        const out: string[] = [];
        for (const st of await statements(run)) {
          const plan = (await knex.raw(`EXPLAIN QUERY PLAN ${st.sql}`, [...st.bindings])) as Array<{ detail: string }>;
          out.push(plan.map((p) => p.detail).join('\n'));
        }
        return out;
      };
      const upgrade = await plans(() => listPackages(knex, DEFAULT_SCOPE, 10, 10));
      expect(upgrade.length).toBeGreaterThanOrEqual(2);
      for (const text of upgrade) {
        expect(text).toMatch(/USING (COVERING )?INDEX \w+_app_id_workspace_id_id_index/);
        expect(text).not.toMatch(/TEMP B-TREE/);
      }
      // offline packages and mini program packages share the table, told apart by the id's length: each kind's
      // list, and its count, walk the index that holds the kind (012) instead of reading every row of the workspace
      for (const kind of ['nebula', 'mini'] as const) {
        const texts = await plans(() => listResources(knex, DEFAULT_SCOPE, kind, '', 10, 10));
        expect(texts.length, kind).toBeGreaterThanOrEqual(2);
        for (const text of texts) {
          expect(text, kind).toMatch(/USING (COVERING )?INDEX nebula_resources_kind_id_index/);
          expect(text, kind).not.toMatch(/TEMP B-TREE/);
        }
      }
    }
  });
});

describe('a snapshot of a workspace with over a thousand releasing tasks', () => {
  it('is read in pages and compiled in slices, the loop handed back between them, and holds every task', async () => {
    const { deps } = suite.srv.node;
    const { knex } = deps.db;
    const tasks: number[] = [];
    for (let a = 0; a < 300; a++) {
      const r = await insertResource(knex, { h5_id: String(67000000 + a), h5_version: '1.0' });
      for (let k = 0; k < 4; k++) tasks.push((await insertTask(knex, r, { publish_type: 2, publish_mode: 3, percent: 10 + k })).id);
    }
    await bump(deps.db);
    const admissions = new AdmissionCache(deps.db, deps.now, deps.log);
    try {
      const { value, turns } = await turnsDuring(() => loadSnapshot(deps, DEFAULT_SCOPE.appId, DEFAULT_SCOPE.workspaceId, newLoaderCaches(), admissions));
      expect(turns).toBeGreaterThanOrEqual(10);
      const planned = [...value.snapshot.apps.values()].flat().map((p) => p.id);
      for (const id of tasks) expect(planned).toContain(id);
      expect(value.snapshot.apps.get('67000299')!.map((p) => p.id).sort((x, y) => x - y)).toEqual(tasks.slice(-4));
    } finally {
      admissions.clear();
    }
  });
});
