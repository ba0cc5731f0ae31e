import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../../../../test/helpers/server.js';
import { TenantStore } from '../tenants/tenant-store.js';
import { loadConfig } from '../../config.js';
import { openDatabase } from '../../db/database.js';
import { ClientKeys } from './client-keys.js';

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
