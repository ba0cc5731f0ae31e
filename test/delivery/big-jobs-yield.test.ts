// better-sqlite3 answers synchronously: a job over hundreds of thousands of rows
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
      for (const table of ['nebula_resources', 'upgrade_packages']) {
        // the statement as the stores build it (listResources, listPackages)
        const q = knex(table).where({ app_id: DEFAULT_SCOPE.appId, workspace_id: DEFAULT_SCOPE.workspaceId });
        const page = q.orderBy('id', 'desc').offset(10).limit(10).select('*').toSQL();
        const plan = (await knex.raw(`EXPLAIN QUERY PLAN ${page.sql}`, [...page.bindings])) as Array<{ detail: string }>;
        const text = plan.map((p) => p.detail).join('\n');
        expect(text, table).toMatch(/USING (COVERING )?INDEX \w+_app_id_workspace_id_id_index/);
        expect(text, table).not.toMatch(/TEMP B-TREE/);
      }
      // offline packages and mini program packages share the table, told apart by the id's length: each kind's
      // list, and its count, walk the index that holds the kind (012) instead of reading every row of the workspace
      for (const length of [8, 16]) {
        const kind = () => knex('nebula_resources').where({ app_id: DEFAULT_SCOPE.appId, workspace_id: DEFAULT_SCOPE.workspaceId }).whereRaw('length(h5_id) = ?', [length]);
        for (const stmt of [kind().orderBy('id', 'desc').offset(10).limit(10).select('*').toSQL(), kind().count({ n: '*' }).toSQL()]) {
          const plan = (await knex.raw(`EXPLAIN QUERY PLAN ${stmt.sql}`, [...stmt.bindings])) as Array<{ detail: string }>;
          const text = plan.map((p) => p.detail).join('\n');
          expect(text, stmt.sql).toMatch(/USING (COVERING )?INDEX nebula_resources_kind_id_index/);
          expect(text, stmt.sql).not.toMatch(/TEMP B-TREE/);
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
