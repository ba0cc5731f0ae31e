import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bump, insertResource, insertTask, insertWhitelist } from '../../../../../test/helpers/delivery-fixtures.js';
import { startTestServer, type TestServer } from '../../../../../test/helpers/server.js';
import { turnsDuring } from '../../../../../test/helpers/turns.js';
import { AdmissionCache, NEBULA_ADMISSION_TABLES } from './admissions.js';
import { PACKED_FROM, PackedIdSet } from './engine/id-set.js';
import { loadSnapshot, newLoaderCaches } from './snapshot-loader.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.close();
});

describe('snapshot loader: a big whitelist', () => {
  it('is packed, matches exactly, and on SQLite leaves the page cache size as it was', async () => {
    const { deps } = srv.node;
    const knex = deps.db.knex;
    const cacheSize = async () => ((await knex.raw('PRAGMA cache_size')) as Array<{ cache_size: number }>)[0]!.cache_size;
    const before = deps.db.dialect === 'sqlite' ? await cacheSize() : null;
    const ids = Array.from({ length: PACKED_FROM + 10 }, (_, i) => `big-${i}`);
    const list = await insertWhitelist(knex, 'normal', ids);
    const r = await insertResource(knex, { h5_id: '55550001', h5_version: '1.0' });
    await insertTask(knex, r, { publish_type: 2, publish_mode: 1, whitelist_ids: String(list) });
    await bump(deps.db);

    const caches = newLoaderCaches();
    const admissions = new AdmissionCache(deps.db, deps.now, deps.log);
    // two app/workspace loads at once: the cache size is restored once both are done
    const [a, b] = await Promise.all([1, 2].map(() => loadSnapshot(deps, srv.creds.appId, srv.creds.workspaceId, newLoaderCaches(), admissions)));
    const { snapshot } = await loadSnapshot(deps, srv.creds.appId, srv.creds.workspaceId, caches, admissions);
    for (const snap of [a!.snapshot, b!.snapshot, snapshot]) {
      const wl = snap.apps.get('55550001')![0]!.whitelists[0]!;
      expect(wl.ids).toBeInstanceOf(PackedIdSet);
      expect(wl.ids!.size).toBe(ids.length);
      expect(wl.ids!.has('big-0') && wl.ids!.has(`big-${ids.length - 1}`)).toBe(true);
      expect(wl.ids!.has('big-x')).toBe(false);
    }
    if (before !== null) expect(await cacheSize()).toBe(before);
  });
});

describe('snapshot loader: reading a big whitelist while the node serves', () => {
  it('hands the event loop back while it reads and builds the list (SQLite answers synchronously), and the list is exact', async () => {
    const { deps } = srv.node;
    const knex = deps.db.knex;
    const ids = Array.from({ length: 30_000 }, (_, i) => `turn-${i}`);
    const list = await insertWhitelist(knex, 'normal', ids);
    // the count kept on the list only sizes the table: a wrong one costs a regrowth, never an id
    await knex('whitelists').where({ id: list }).update({ entry_count: PACKED_FROM });
    const r = await insertResource(knex, { h5_id: '55550009', h5_version: '1.0' });
    await insertTask(knex, r, { publish_type: 2, publish_mode: 1, whitelist_ids: String(list) });
    await bump(deps.db);

    const admissions = new AdmissionCache(deps.db, deps.now, deps.log);
    const {
      value: { snapshot },
      turns,
    } = await turnsDuring(() => loadSnapshot(deps, srv.creds.appId, srv.creds.workspaceId, newLoaderCaches(), admissions));
    expect(turns).toBeGreaterThanOrEqual(10);
    const wl = snapshot.apps.get('55550009')![0]!.whitelists[0]!;
    expect(wl.ids).toBeInstanceOf(PackedIdSet);
    expect(wl.ids!.size).toBe(ids.length);
    expect(ids.every((id) => wl.ids!.has(id))).toBe(true);
    expect(wl.ids!.has('turn-30000')).toBe(false);
  });
});

describe('time-window admissions on two nodes whose clocks differ at the end time', () => {
  it('a user admitted late by the node whose clock runs behind is seen by the other once admissions settle', async () => {
    const { deps } = srv.node;
    const knex = deps.db.knex;
    const r = await insertResource(knex, { h5_id: '55550002', h5_version: '1.0' });
    const end = Date.now() + 60_000;
    const task = await insertTask(knex, r, { publish_type: 2, publish_mode: 2, grey_num: 10, grey_endtime: end });
    const aheadNow = end + 1;
    const behindNow = end - 5;
    const settleMs = 400;
    const ahead = new AdmissionCache(deps.db, () => aheadNow, deps.log, NEBULA_ADMISSION_TABLES, settleMs);
    const behind = new AdmissionCache(deps.db, () => behindNow, deps.log, NEBULA_ADMISSION_TABLES, settleMs);
    try {
      const plan = { id: task.id, greyNum: 10, endTime: end } as Parameters<AdmissionCache['admit']>[0];
      const row = [{ id: task.id, greyNum: 10, greyAdmitted: 0, endTime: end }];
      await ahead.prepare(row);
      await behind.prepare(row);
      // past the end by its clock, the node ahead takes the set as final and refuses a new user
      expect(ahead.verdict(plan, 'late-user')).toBe('rejected');
      // the node behind still admits him, and he keeps the package there
      await behind.admit(plan, 'late-user');
      expect(behind.verdict(plan, 'late-user')).toBe('admitted');
      expect(ahead.verdict(plan, 'late-user')).toBe('rejected');
      // the settle reload (ENDED_SETTLE_MS after the end time in production) brings the node ahead in line
      await vi.waitFor(() => expect(ahead.verdict(plan, 'late-user')).toBe('admitted'), { timeout: 5000, interval: 50 });
      expect(ahead.verdict(plan, 'never-asked')).toBe('rejected');
    } finally {
      ahead.clear();
      behind.clear();
    }
  });
});

describe('time-window admissions in batches', () => {
  it('users arriving together on two nodes fill exactly the free slots, in one transaction per node and turn; the rest keep no row', async () => {
    const { deps } = srv.node;
    const knex = deps.db.knex;
    const r = await insertResource(knex, { h5_id: '55550003', h5_version: '1.0' });
    const task = await insertTask(knex, r, { publish_type: 2, publish_mode: 2, grey_num: 7, grey_endtime: Date.now() + 3_600_000 });
    const plan = { id: task.id, greyNum: 7, endTime: Date.now() + 3_600_000 } as Parameters<AdmissionCache['admit']>[0];
    const a = new AdmissionCache(deps.db, deps.now, deps.log);
    const b = new AdmissionCache(deps.db, deps.now, deps.log);
    // one user admitted before: asking again in a batch takes no second slot
    await a.admit(plan, 'early');
    const transactions = vi.spyOn(knex, 'transaction');
    const users = Array.from({ length: 40 }, (_, i) => `crowd-${i}`);
    await Promise.all([...users.map((u, i) => (i % 2 ? a : b).admit(plan, u)), a.admit(plan, 'early'), b.admit(plan, 'early')]);
    // one batch per node for the 42 calls of this turn
    expect(transactions.mock.calls.length).toBeLessThanOrEqual(2);
    transactions.mockRestore();
    const rows: string[] = await knex('grey_admissions').where({ task_id: task.id }).orderBy('user_key').pluck('user_key');
    expect(rows).toHaveLength(7);
    expect(rows).toContain('early');
    expect(Number((await knex('nebula_tasks').where({ id: task.id }).first('grey_admitted')).grey_admitted)).toBe(7);
    // each node answers from memory: exactly the rows are admitted, everybody else is refused
    for (const c of [a, b]) {
      for (const u of [...users, 'early']) expect(c.verdict(plan, u), u).toBe(rows.includes(u) ? 'admitted' : 'rejected');
    }
  });
});

describe('time-window admissions of a task another node deleted', () => {
  it('answers the waiting users (no slot) without writing rows the foreign key refuses, and without a failure per user', async () => {
    const { deps } = srv.node;
    const knex = deps.db.knex;
    const end = Date.now() + 3_600_000;
    const r = await insertResource(knex, { h5_id: '55550005', h5_version: '1.0' });
    const task = await insertTask(knex, r, { publish_type: 2, publish_mode: 2, grey_num: 100, grey_endtime: end });
    const plan = { id: task.id, greyNum: 100, endTime: end } as Parameters<AdmissionCache['admit']>[0];
    const c = new AdmissionCache(deps.db, deps.now, deps.log);
    try {
      await c.admit(plan, 'before');
      expect(c.verdict(plan, 'before')).toBe('admitted');
      // what DeleteMcubeNebulaApp on another node leaves: the task and its admissions gone, this node's snapshot not yet rebuilt
      await knex('grey_admissions').where({ task_id: task.id }).delete();
      await knex('nebula_tasks').where({ id: task.id }).delete();
      const users = Array.from({ length: 30 }, (_, i) => `after-${i}`);
      const settled = await Promise.allSettled(users.map((u) => c.admit(plan, u)));
      expect(settled.filter((x) => x.status === 'rejected')).toEqual([]);
      for (const u of users) expect(c.verdict(plan, u), u).toBe('rejected');
    } finally {
      c.clear();
    }
  });
});

describe('time-window admissions and a GreyNum raise', () => {
  it('a "task full" load that ends after a snapshot showed the raised GreyNum does not close the task on this node', async () => {
    const { deps } = srv.node;
    const knex = deps.db.knex;
    const end = Date.now() + 3_600_000;
    const r = await insertResource(knex, { h5_id: '55550004', h5_version: '1.0' });
    const task = await insertTask(knex, r, { publish_type: 2, publish_mode: 2, grey_num: 1, grey_endtime: end });
    const plan = { id: task.id, greyNum: 1, endTime: end } as Parameters<AdmissionCache['admit']>[0];
    const c = new AdmissionCache(deps.db, deps.now, deps.log);
    await c.prepare([{ id: task.id, greyNum: 1, greyAdmitted: 0, endTime: end }]);
    await c.admit(plan, 'first');
    // 'second' finds the task full; while this node loads the final set, GreyNum is raised and a snapshot shows it
    const cache = c as unknown as { loadAll: (id: number, s: unknown) => Promise<void> };
    const load = cache.loadAll.bind(c);
    let raised = false;
    cache.loadAll = async (id, s) => {
      if (!raised) {
        raised = true;
        await knex('nebula_tasks').where({ id: task.id }).update({ grey_num: 5 });
        await c.prepare([{ id: task.id, greyNum: 5, greyAdmitted: 1, endTime: end }]);
      }
      return load(id, s);
    };
    await c.admit(plan, 'second');
    expect(raised).toBe(true);
    const wider = { ...plan, greyNum: 5 };
    expect(c.verdict(wider, 'second')).toBe('unknown');
    await c.admit(wider, 'second');
    expect(c.verdict(wider, 'second')).toBe('admitted');
  });
});
