// A node that holds a big list brings it up to date from the list's change log
// (whitelist_changes) instead of reading it whole; whatever path it takes, it
// must end with exactly the list a fresh read gives.
import { describe, expect, it } from 'vitest';
import { OverlayIdSet, PACKED_FROM } from '../../packages/server/src/features/delivery/engine/id-set.js';
import { loadWhitelists, newLoaderCaches } from '../../packages/server/src/features/delivery/snapshot-loader.js';
import { CHANGE_LOG_MAX, whitelistStore } from '../../packages/server/src/features/whitelists/whitelist-store.js';
import { useTestServer } from '../helpers/suite.js';
import { turnsDuring } from '../helpers/turns.js';

const suite = useTestServer();

const ok = async (action: string, body: Record<string, unknown>) => {
  const res = await suite.call(action, { AppId: suite.srv.creds.appId, WorkspaceId: suite.srv.creds.workspaceId, TenantId: suite.srv.creds.tenantId, ...body });
  expect(res.statusCode).toBe(200);
  expect(res.body.ResultCode).toBe('OK');
  return res.body;
};
const addIds = (id: string, ids: string[]) => ok('UpdateMcubeWhitelist', { Id: id, KeyIds: ids.join(',') });
const removeId = (id: string, value: string) => ok('DeleteMdsWhitelistContent', { WhitelistId: id, WhitelistValue: value });
const loadsOf = async () => {
  const text = suite.srv.node.deps.metrics.render();
  const n = (how: string) => Number(new RegExp(`mcube_whitelist_loads_total\\{how="${how}"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
  return { whole: n('whole'), changes: n('changes') };
};
const warn = () => {};

describe('a big whitelist changed a few ids at a time', () => {
  it('is brought up to date from the change log, and holds exactly what a fresh read gives', async () => {
    const { deps } = suite.srv.node;
    const { appId, workspaceId } = suite.srv.creds;
    const id = (await ok('CreateMcubeWhitelist', { WhiteListName: 'big-changing', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId as string;
    const base = Array.from({ length: PACKED_FROM + 100 }, (_, i) => `base-${i}`);
    // an import bigger than one change may log: nodes read the list whole
    for (let i = 0; i < base.length; i += 2000) await addIds(id, base.slice(i, i + 2000));
    const wanted = new Set([Number(id)]);
    const caches = newLoaderCaches();
    const load = async (c = caches) => (await loadWhitelists(deps, appId, workspaceId, wanted, c, warn)).get(Number(id))!;

    let loads = await loadsOf();
    const first = await load();
    expect(await loadsOf()).toEqual({ whole: loads.whole + 1, changes: loads.changes });
    expect(first.ids!.size).toBe(base.length);

    // a few changes, in an order where it matters: an id added then removed, a base id removed then added back
    await addIds(id, ['new-1', 'new-2']);
    await removeId(id, 'new-1');
    await removeId(id, 'base-7');
    await removeId(id, 'base-8');
    await addIds(id, ['base-8', 'new-3']);
    loads = await loadsOf();
    const caught = await load();
    expect(await loadsOf()).toEqual({ whole: loads.whole, changes: loads.changes + 1 });
    expect(caught.ids).toBeInstanceOf(OverlayIdSet);
    const fresh = await load(newLoaderCaches());
    const probes = ['new-1', 'new-2', 'new-3', 'base-0', 'base-7', 'base-8', `base-${base.length - 1}`, 'never'];
    const member = (l: typeof first) => probes.map((p) => `${p}:${l.ids!.has(p)}`);
    expect(member(caught)).toEqual(member(fresh));
    expect(member(caught)).toEqual(['new-1:false', 'new-2:true', 'new-3:true', 'base-0:true', 'base-7:false', 'base-8:true', `base-${base.length - 1}:true`, 'never:false']);
    expect(caught.ids!.size).toBe(fresh.ids!.size);
    expect(caught.ids!.size).toBe(base.length + 1);

    // nothing changed: the same compiled list, no load at all
    loads = await loadsOf();
    expect(await load()).toBe(caught);
    expect(await loadsOf()).toEqual(loads);

    // a change too big to log leaves a gap in the log: read whole again
    const many = Array.from({ length: CHANGE_LOG_MAX + 1 }, (_, i) => `bulk-${i}`);
    await addIds(id, many);
    loads = await loadsOf();
    const afterBulk = await load();
    expect(await loadsOf()).toEqual({ whole: loads.whole + 1, changes: loads.changes });
    expect(afterBulk.ids).not.toBeInstanceOf(OverlayIdSet);
    expect(afterBulk.ids!.has('bulk-0') && afterBulk.ids!.has('new-3') && !afterBulk.ids!.has('base-7')).toBe(true);

    // logged rows gone (pruned) before a node caught up: read whole again, not a wrong list
    await addIds(id, ['late-1']);
    await removeId(id, 'base-9');
    await deps.db.knex('whitelist_changes').where({ whitelist_id: Number(id) }).delete();
    loads = await loadsOf();
    const afterPrune = await load();
    expect(await loadsOf()).toEqual({ whole: loads.whole + 1, changes: loads.changes });
    expect(afterPrune.ids!.has('late-1') && !afterPrune.ids!.has('base-9')).toBe(true);
  });

  it('for a snapshot holder, a list that must be read whole is read in the background while the copy held serves', async () => {
    const { deps } = suite.srv.node;
    const { appId, workspaceId } = suite.srv.creds;
    const id = (await ok('CreateMcubeWhitelist', { WhiteListName: 'big-background', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId as string;
    await addIds(id, Array.from({ length: PACKED_FROM + 10 }, (_, i) => `bg-${i}`));
    const wanted = new Set([Number(id)]);
    let loaded = 0;
    const caches = newLoaderCaches();
    caches.onLoaded = () => loaded++;
    const load = async () => (await loadWhitelists(deps, appId, workspaceId, wanted, caches, warn)).get(Number(id))!;
    // the first read has no copy to serve meanwhile: it is waited for
    const first = await load();
    expect(first.ids!.has('bg-0')).toBe(true);
    expect(caches.reading.size).toBe(0);

    await addIds(id, Array.from({ length: CHANGE_LOG_MAX + 1 }, (_, i) => `bg-new-${i}`));
    const wholeBefore = (await loadsOf()).whole;
    const during = await load();
    // answered at once with the copy held, the read still going on
    expect(during).toBe(first);
    expect(caches.reading.size).toBe(1);
    expect(during.ids!.has('bg-new-0')).toBe(false);
    // asked again meanwhile (the read may be in by now): never a second read
    const again = await load();
    expect(again === first || again.ids!.has('bg-new-0')).toBe(true);
    await Promise.all(caches.reading.values());
    expect(loaded).toBe(1);
    expect((await loadsOf()).whole).toBe(wholeBefore + 1);
    const after = await load();
    expect(after).not.toBe(first);
    expect(after.ids!.has('bg-new-0') && after.ids!.has('bg-0')).toBe(true);
    expect(caches.reading.size).toBe(0);

    // a read that fails: the copy held keeps serving, and the owner is not asked to build again at once
    // (that would be a loop of whole reads); the next build reads again
    await addIds(id, Array.from({ length: CHANGE_LOG_MAX + 1 }, (_, i) => `bg-late-${i}`));
    const knex = deps.db.knex;
    await knex.schema.renameTable('whitelist_entries', 'whitelist_entries_away');
    try {
      expect(await load()).toBe(after);
      expect(caches.reading.size).toBe(1);
      await Promise.all(caches.reading.values());
      expect(caches.reading.size).toBe(0);
      expect(loaded).toBe(1);
    } finally {
      await knex.schema.renameTable('whitelist_entries_away', 'whitelist_entries');
    }
    expect(await load()).toBe(after);
    await Promise.all(caches.reading.values());
    expect((await load()).ids!.has('bg-late-0')).toBe(true);
  });

  it('a removed list takes its logged changes with it', async () => {
    const id = (await ok('CreateMcubeWhitelist', { WhiteListName: 'gone', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId as string;
    await addIds(id, ['a', 'b']);
    await removeId(id, 'a');
    const rows = () => suite.srv.node.deps.db.knex('whitelist_changes').where({ whitelist_id: Number(id) }).orderBy('seq').select('seq', 'value', 'added');
    expect((await rows()).map((r) => `${r.seq}:${r.value}:${r.added}`)).toEqual(['1:a:1', '2:b:1', '3:a:0']);
    await ok('DeleteMcubeWhitelist', { Id: Number(id) });
    expect(await rows()).toEqual([]);
  });
});

describe('OverlayIdSet', () => {
  it('applies adds and removals in order on top of a base it leaves untouched', () => {
    const base = new Set(['a', 'b', 'c']);
    const one = OverlayIdSet.apply(base, [
      { value: 'a', added: false },
      { value: 'd', added: true },
      { value: 'd', added: false },
      { value: 'e', added: true },
      { value: 'b', added: true },
    ]);
    expect(['a', 'b', 'c', 'd', 'e'].filter((x) => one.has(x))).toEqual(['b', 'c', 'e']);
    expect(one.size).toBe(3);
    const two = OverlayIdSet.apply(one, [
      { value: 'a', added: true },
      { value: 'e', added: false },
      { value: 'c', added: false },
    ]);
    expect(['a', 'b', 'c', 'd', 'e'].filter((x) => two.has(x))).toEqual(['a', 'b']);
    expect(two.size).toBe(2);
    expect(two.base).toBe(base);
    expect(two.changes).toBe(1);
    // the earlier overlay and the base are as they were
    expect(['a', 'b', 'c', 'd', 'e'].filter((x) => one.has(x))).toEqual(['b', 'c', 'e']);
    expect([...base]).toEqual(['a', 'b', 'c']);
  });
});

describe('deleting a big whitelist', () => {
  it('deletes its entries in chunks that hand the event loop back (SQLite answers synchronously), and no other list loses one', async () => {
    const { deps } = suite.srv.node;
    const { appId, workspaceId } = suite.srv.creds;
    const knex = deps.db.knex;
    const big = Number((await ok('CreateMcubeWhitelist', { WhiteListName: 'big-deleted', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    const other = Number((await ok('CreateMcubeWhitelist', { WhiteListName: 'kept-beside', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    const ids = Array.from({ length: 7600 }, (_, i) => `gone-${i}`);
    await whitelistStore.insertValues(knex, deps.db.dialect, big, ids);
    await whitelistStore.insertValues(knex, deps.db.dialect, other, ids.slice(0, 300));
    const entries = async (id: number) => Number((await knex('whitelist_entries').where({ whitelist_id: id }).count({ n: '*' }))[0]!.n);
    expect(await entries(big)).toBe(7600);

    const { turns } = await turnsDuring(() => knex.transaction((trx) => whitelistStore.delete(trx, deps.db.dialect, { appId, workspaceId }, big)));
    expect(turns).toBeGreaterThanOrEqual(2);
    expect(await entries(big)).toBe(0);
    expect(await knex('whitelists').where({ id: big }).first('id')).toBeUndefined();
    expect(await entries(other)).toBe(300);
  });
});

describe('adding thousands of ids in one call', () => {
  it('inserts them in batches with the event loop handed back between them (CreateMcubeWhitelistForIde takes them inline)', async () => {
    const { deps } = suite.srv.node;
    const knex = deps.db.knex;
    const id = Number((await ok('CreateMcubeWhitelist', { WhiteListName: 'many-at-once', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId);
    const ids = Array.from({ length: 7000 }, (_, i) => `many-${i}`);
    const { value: added, turns } = await turnsDuring(() => knex.transaction((trx) => whitelistStore.insertValues(trx, deps.db.dialect, id, ids)));
    expect(added).toBe(7000);
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(Number((await knex('whitelist_entries').where({ whitelist_id: id }).count({ n: '*' }))[0]!.n)).toBe(7000);
  });
});
