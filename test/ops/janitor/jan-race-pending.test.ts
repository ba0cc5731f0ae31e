import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../../packages/server/src/core/blob-store.js';
import type { Deps } from '../../../packages/server/src/core/registry.js';
import { runJanitor } from '../../../packages/server/src/features/janitor/index.js';
import { publishFixture } from '../../helpers/nebula.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { checkInvariant } from './blob-invariant.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  await srv?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A package build whose reservation is older than the janitor's grace (grace 0, or a build
 * longer than MCUBE_JANITOR_GRACE_SEC) commits between the janitor's object delete and its
 * conditional row delete: the package row is committed and 'live', its objects are gone.
 */
describe('janitor pending sweep vs. a build committing', () => {
  it('a build that outlasts the grace must fail, never commit a package whose objects the janitor deleted', async () => {
    const deps = srv.node.deps as Deps;
    const real = deps.blobs;
    const { knex } = deps.db;
    const origPut = real.put.bind(real);
    const origDelete = real.delete.bind(real);
    let janitorRun: Promise<unknown> | null = null;
    let firstDeleted!: () => void;
    const deletedOnce = new Promise<void>((r) => (firstDeleted = r));
    let paused = false;
    // the janitor's view of the store: after its first object delete, it waits until the build committed
    const janitorStore = Object.create(real) as BlobStore;
    janitorStore.delete = async (key: string) => {
      await origDelete(key);
      if (!paused) {
        paused = true;
        firstDeleted();
        for (let i = 0; i < 200; i++) {
          if (await knex('blobs').where({ key, state: 'live' }).first()) break;
          await sleep(10);
        }
      }
    };
    // the build: once both objects are written (just before its transaction), the janitor runs (grace 0)
    (real as any).put = async (key: string, body: any, o: any) => {
      await origPut(key, body, o);
      if (key.endsWith('.json') && !janitorRun) {
        janitorRun = runJanitor({ ...deps, blobs: janitorStore, config: { ...deps.config, janitor: { ...deps.config.janitor, graceSec: 0 } } });
        await deletedOnce;
      }
    };
    // the build either fails (its reservation was claimed first) or commits before the janitor's claim; never
    // a committed package whose objects are gone
    const created = await publishFixture(srv, { h5Id: '11112222', version: '1.0.0.0' }).then(
      () => true,
      () => false,
    );
    (real as any).put = origPut;
    await janitorRun;
    const rows = await knex('nebula_resources').where({ h5_id: '11112222' }).select('amr_key');
    expect(rows.length).toBe(created ? 1 : 0);
    await checkInvariant(srv, { strictOrphans: false });
  });
});
