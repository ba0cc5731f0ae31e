import { utimes } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../../packages/server/src/core/blob-store.js';
import type { Deps } from '../../../packages/server/src/core/registry.js';
import { runJanitor } from '../../../packages/server/src/features/janitor/index.js';
import type { LocalBlobStore } from '../../../packages/server/src/features/storage/local-store.js';
import { mcube, publishFixture } from '../../helpers/nebula.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { checkInvariant } from './blob-invariant.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  await srv?.close();
});

/**
 * Node B deletes an H5 app and the version is published again right away, while node A's
 * janitor is in its orphan pass over the old objects. The re-published package must keep its
 * objects (the orphan delete claims its key first, and a new build writes under a folder of
 * its own; test/ops/janitor-races.test.ts holds a writer off a key being claimed).
 */
describe('janitor orphan pass vs. a re-publish of the same version', () => {
  it('the re-published package keeps its objects', async () => {
    const deps = srv.node.deps as Deps;
    const real = deps.blobs as LocalBlobStore;
    const p = await publishFixture(srv, { h5Id: '33334444', version: '1.0.0.0' });
    const call = mcube(srv);
    const { amr_key: amrKey } = await deps.db.knex('nebula_resources').where({ id: p.resourceId }).first('amr_key');
    // the old object is past the grace (the janitor only lists objects older than it)
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(real.pathFor(amrKey), old, old);
    // node A's janitor: its listing saw the old object; when it gets to delete it, B has deleted the app
    // and forgotten the key (so the "asked again" check found nothing), and the version is re-published
    let raced = false;
    const listingStore = Object.create(real) as BlobStore;
    listingStore.list = async function* (prefix: string) {
      for await (const o of real.list(prefix)) {
        yield o;
      }
      if (prefix === 'pkg/' && !raced) {
        // between the listing and the per-key check: B deletes the app (object and row go)
        expect((await call('DeleteMcubeNebulaApp', { H5Id: '33334444' })).ResultCode).toBe('OK');
        expect(await deps.db.knex('blobs').where({ key: amrKey }).first()).toBeUndefined();
      }
    };
    listingStore.delete = async (key: string) => {
      if (key === amrKey && !raced) {
        raced = true;
        // between the check and the delete: the version is published again (same keys)
        await publishFixture(srv, { h5Id: '33334444', version: '1.0.0.0' });
      }
      return real.delete(key);
    };
    await runJanitor({ ...deps, blobs: listingStore });
    expect(raced).toBe(true);
    await checkInvariant(srv, { strictOrphans: false });
  });
});
