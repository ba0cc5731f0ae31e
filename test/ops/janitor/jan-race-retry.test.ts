import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../../packages/server/src/core/registry.js';
import { runJanitor } from '../../../packages/server/src/features/janitor/index.js';
import { publishFixture } from '../../helpers/nebula.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  await srv?.close();
});

/**
 * Build A outlasts the janitor's grace (here: grace 0) and its reservations are swept. The caller
 * retries (build B, the same H5 version), which commits. Then A resumes. A's failure cleanup used
 * to delete the objects under its keys, which were B's: B's package was live and its downloads 404.
 * Now A fails with BuildExpired or a conflict, and B's package stays whole.
 */
async function slowBuildThenRetry(h5Id: string, janitorSweepsWorkFolders: boolean) {
  const deps = srv.node.deps as Deps;
  const real = deps.blobs;
  const origPutFile = real.putFile.bind(real);
  let release!: () => void;
  const resume = new Promise<void>((r) => (release = r));
  let reachedPut!: () => void;
  const atPut = new Promise<void>((r) => (reachedPut = r));
  let first = true;
  (real as any).putFile = async (key: string, path: string, o: any) => {
    if (first && key.endsWith('.amr')) {
      first = false;
      reachedPut();
      await resume; // build A is slow here (a big package to a slow store)
    }
    return origPutFile(key, path, o);
  };
  try {
    const a = publishFixture(srv, { h5Id, version: '1.0.0.0' }).then(
      () => 'created',
      (e: Error) => e.message,
    );
    await atPut;
    const packages = janitorSweepsWorkFolders ? deps.config.packages : { ...deps.config.packages, workDir: deps.config.packages.workDir + '-elsewhere' };
    const rep = await runJanitor({ ...deps, config: { ...deps.config, packages, janitor: { ...deps.config.janitor, graceSec: 0 } } });
    expect(rep.pendingSwept).toBe(2);
    const b = await publishFixture(srv, { h5Id, version: '1.0.0.0', createApp: false });
    release();
    // A is done (and so is its cleanup) before B's package is looked at
    expect(await a).not.toBe('created');
    const item = (await b.call('ListMcubeNebulaResources', { H5Id: h5Id })).ListMcubeNebulaResourceResult.NebulaResourceInfo;
    expect(item).toHaveLength(1);
    expect({ amr: (await fetch(item[0].DownloadUrl)).status, h5json: (await fetch(item[0].Memo)).status }).toEqual({ amr: 200, h5json: 200 });
  } finally {
    (real as any).putFile = origPutFile;
  }
}

describe('a swept slow build and its retry', () => {
  it("the retry's package survives the slow build failing (its work folder swept too)", () => slowBuildThenRetry('55556666', true));
  it("the retry's package survives the slow build failing (its work folder kept)", () => slowBuildThenRetry('77778888', false));
});
