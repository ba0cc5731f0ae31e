import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../../test/helpers/server.js';
import { TenantStore } from '../tenants/tenant-store.js';
import { loadConfig } from '../../config.js';
import { openDatabase } from '../../db/database.js';
import { ClientKeys } from './client-keys.js';
import { deviceCheck, queryOf } from '../../../../../test/helpers/device-client.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv.close();
});

describe('device client key rotation', () => {
  it('the new key works at once, the replaced one until its grace ends (and is not remembered past it), an older one not at all', async () => {
    const { db, box } = srv.node.deps;
    const { appId, workspaceId, clientKey: first } = srv.creds;
    let t = Date.now();
    const store = new TenantStore(db, box, () => t);
    const second = (await store.rotateClientKey(appId, workspaceId, 60))!;
    expect(second.previous).toBe(first);
    const keys = new ClientKeys(db, () => t);
    const scope = { appId, workspaceId, key: `${appId}\u0000${workspaceId}` };
    expect(await keys.resolve(second.clientKey)).toEqual(scope);
    expect(await keys.resolve(first)).toEqual(scope);
    // past the grace: the replaced key is refused, also by a node that had it cached
    t += 61_000;
    expect(await keys.resolve(first)).toBeNull();
    expect(await new ClientKeys(db, () => t).resolve(first)).toBeNull();
    expect(await keys.resolve(second.clientKey)).toEqual(scope);
    // rotating again drops the key replaced before
    const third = (await store.rotateClientKey(appId, workspaceId, 3600))!;
    const fresh = new ClientKeys(db, () => t);
    expect(await fresh.resolve(third.clientKey)).toEqual(scope);
    expect(await fresh.resolve(second.clientKey)).toEqual(scope);
    expect(await fresh.resolve(first)).toBeNull();
    expect(await store.rotateClientKey(appId, 'no-such-workspace', 60)).toBeNull();
  });
});

describe('device client key rotation across nodes', () => {
  it('a rotation moves the stamp: a node that cached a key rotated out without grace looks it up again at its next stamp check', async () => {
    const { db, box } = srv.node.deps;
    const { appId, workspaceId } = srv.creds;
    const scope = { appId, workspaceId, key: `${appId}\u0000${workspaceId}` };
    const store = new TenantStore(db, box);
    const stampNow = async () => Number((await db.knex('change_stamps').where({ app_id: appId, workspace_id: workspaceId }).first('stamp'))?.stamp ?? 0);
    for (const how of ['poll', 'notified'] as const) {
      const current = (await store.rotateClientKey(appId, workspaceId, 3600))!.clientKey;
      const keys = new ClientKeys(db, Date.now);
      expect(await keys.resolve(current)).toEqual(scope);
      await store.rotateClientKey(appId, workspaceId, 0);
      // still in this node's cache until the stamp is checked
      expect(keys.resolve(current)).toEqual(scope);
      if (how === 'poll') await keys.stampHooks.poll();
      else {
        const read = stampNow();
        keys.stampHooks.notified(appId, workspaceId, () => read);
        await read;
        await new Promise((r) => setImmediate(r));
      }
      expect(await keys.resolve(current), how).toBeNull();
    }
    // the new key looked up on this node before its stamp check: the key rotated out is not carried over
    const old = (await store.rotateClientKey(appId, workspaceId, 3600))!.clientKey;
    const keys = new ClientKeys(db, Date.now);
    expect(await keys.resolve(old)).toEqual(scope);
    const fresh = (await store.rotateClientKey(appId, workspaceId, 0))!.clientKey;
    expect(await keys.resolve(fresh)).toEqual(scope);
    await keys.stampHooks.poll();
    expect(await keys.resolve(old)).toBeNull();
    expect(await keys.resolve(fresh)).toEqual(scope);
  });

  it('end to end: the node stops serving a key another process rotated out, without waiting for its cache period', async () => {
    const { db, box } = srv.node.deps;
    const { appId, workspaceId } = srv.creds;
    const store = new TenantStore(db, box);
    const key = (await store.rotateClientKey(appId, workspaceId, 3600))!.clientKey;
    const ask = async () => (await deviceCheck(srv.url, { platform: 'android', client: '1.0', userId: 'u', query: queryOf({ '10000001': '' }) }, { clientKey: key })).status;
    expect(await ask()).toBe(200);
    await store.rotateClientKey(appId, workspaceId, 0);
    // the node's stamp watcher polls every MCUBE_STAMP_POLL_MS; the deadline only guards against a hang
    let status = 200;
    for (const deadline = Date.now() + 20_000; status === 200 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      status = await ask();
    }
    expect(status).toBe(401);
  });
});

describe('device client keys while the database is out of reach', () => {
  it('a key known before keeps working past its cache period; an unknown key, or a replaced one past its grace, does not', async () => {
    const { appId, workspaceId } = srv.creds;
    // a connection of its own, closed below: queries then fail as they do when the database is gone
    const db = await openDatabase(loadConfig(srv.env.env));
    let t = Date.now();
    const store = new TenantStore(db, srv.node.deps.box, () => t);
    const rotated = (await store.rotateClientKey(appId, workspaceId, 60))!;
    const keys = new ClientKeys(db, () => t);
    const scope = { appId, workspaceId, key: `${appId}\u0000${workspaceId}` };
    expect(await keys.resolve(rotated.clientKey)).toEqual(scope);
    expect(await keys.resolve(rotated.previous)).toEqual(scope);
    await db.close();
    t += 10 * 60_000;
    expect(await keys.resolve(rotated.clientKey)).toEqual(scope);
    t += 60 * 60_000;
    expect(await keys.resolve(rotated.clientKey)).toEqual(scope);
    await expect(keys.resolve('mck_never_seen_before_0000') as Promise<unknown>).rejects.toThrow();
    // the replaced key's grace (60 s) ended long ago
    await expect(keys.resolve(rotated.previous) as Promise<unknown>).rejects.toThrow();
  });
});
