import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../packages/server/src/core/blob-store.js';
import { claimForPurge, commitBlob, dropBlobs, reserveBlob } from '../../packages/server/src/db/blob-registry.js';
import { runJanitor } from '../../packages/server/src/features/janitor/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  await srv.close();
});

const APP = 'ALIPUB0000001';
const WS = 'default';
const stateOf = async (key: string) => ((await srv.node.deps.db.knex('blobs').where({ key }).first('state')) as { state?: string } | undefined)?.state ?? null;

/** An object whose package row was deleted: stored, then marked deleted, its removal left to the janitor. */
async function dropped(key: string, body: string): Promise<void> {
  const { knex } = srv.node.deps.db;
  const owner = await reserveBlob(knex, key, APP, WS, Date.now());
  expect(owner).toEqual(expect.any(String));
  await srv.node.deps.blobs.put(key, Buffer.from(body));
  await commitBlob(knex, key, owner!);
  await dropBlobs(knex, [key], Date.now());
}

/** The real store, with a hook that runs once just before the object `at` is deleted. */
function hooked(at: string, before: () => Promise<void>): BlobStore {
  const real = srv.node.deps.blobs;
  let done = false;
  const store = Object.create(real) as BlobStore;
  store.delete = async (key: string) => {
    if (key === at && !done) {
      done = true;
      await before();
    }
    return real.delete(key);
  };
  return store;
}

describe('janitor and a writer re-creating a deleted package under the same key', () => {
  it('a key taken over after the janitor read its list keeps the new object; the others are removed', async () => {
    const { knex } = srv.node.deps.db;
    const first = 'pkg/race/a/1.0.0.1_all/nebula/a.amr';
    const second = 'pkg/race/b/1.0.0.1_all/nebula/b.amr';
    await dropped(first, 'old a');
    await dropped(second, 'old b');
    // while the janitor removes the first object, another node re-creates the second version: it takes the
    // key over (deleted -> pending) and writes the new object, after the janitor listed the key as deleted
    let hookRan = false;
    let owner: string | null = null;
    const blobs = hooked(first, async () => {
      hookRan = true;
      owner = await reserveBlob(knex, second, APP, WS, Date.now());
      expect(owner).toEqual(expect.any(String));
      await srv.node.deps.blobs.put(second, Buffer.from('new b'));
    });
    await runJanitor({ ...srv.node.deps, blobs });
    expect(hookRan).toBe(true);
    await commitBlob(knex, second, owner!);
    expect(await stateOf(second)).toBe('live');
    const stream = await srv.node.deps.blobs.getStream(second);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('new b');
    expect(await srv.node.deps.blobs.head(first)).toBeNull();
    expect(await stateOf(first)).toBeNull();
  });

  it('a key being purged cannot be taken over; once it is gone a writer can have it', async () => {
    const { knex } = srv.node.deps.db;
    const key = 'pkg/race/c/1.0.0.1_all/nebula/c.amr';
    await dropped(key, 'old c');
    let hookRan = false;
    const blobs = hooked(key, async () => {
      hookRan = true;
      expect(await stateOf(key)).toBe('purging');
      expect(await reserveBlob(knex, key, APP, WS, Date.now())).toBeNull();
    });
    await runJanitor({ ...srv.node.deps, blobs });
    expect(hookRan).toBe(true);
    expect(await srv.node.deps.blobs.head(key)).toBeNull();
    expect(await stateOf(key)).toBeNull();
    expect(await reserveBlob(knex, key, APP, WS, Date.now())).toEqual(expect.any(String));
  });

  it('an object no row knows is claimed before it is removed: a writer cannot take its key meanwhile', async () => {
    const { knex } = srv.node.deps.db;
    const key = 'pkg/race/e/1.0.0.1_all/nebula/e.amr';
    await srv.node.deps.blobs.put(key, Buffer.from('orphan'));
    let hookRan = false;
    const blobs = hooked(key, async () => {
      hookRan = true;
      expect(await stateOf(key)).toBe('purging');
      expect(await reserveBlob(knex, key, APP, WS, Date.now())).toBeNull();
    });
    const deps = srv.node.deps;
    // the object is new: it is an orphan only once the grace period is over
    await runJanitor({ ...deps, blobs, now: () => Date.now() + 2 * 3600_000 });
    expect(hookRan).toBe(true);
    expect(await deps.blobs.head(key)).toBeNull();
    expect(await stateOf(key)).toBeNull();
  });

  it('a claim whose remover died is taken up after the grace period', async () => {
    const { knex } = srv.node.deps.db;
    const key = 'pkg/race/d/1.0.0.1_all/nebula/d.amr';
    await dropped(key, 'old d');
    expect(await claimForPurge(knex, key, Date.now() - 2 * 3600_000)).toBe(true);
    expect(await claimForPurge(knex, key, Date.now())).toBe(false);
    const deps = srv.node.deps;
    await runJanitor({ ...deps, config: { ...deps.config, janitor: { ...deps.config.janitor, graceSec: 3600 } } });
    expect(await stateOf(key)).toBeNull();
    expect(await deps.blobs.head(key)).toBeNull();
  });
});
