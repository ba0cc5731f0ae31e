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
 * retries (build B, same H5 version, same keys): B reserves the now-free keys, stores and commits.
 * Then A resumes: commitBlob() does not require the row to be A's pending reservation, so it
 * "commits" B's live row; A's version check then fails, and A's cleanup (removeClaimedBlobs)
 * deletes the objects under its keys, which are B's live package.
 */
describe('a swept slow build and its retry', () => {
  it('the retry\'s package survives the slow build failing', async () => {
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
    const a = publishFixture(srv, { h5Id: '55556666', version: '1.0.0.0' }).then(
      () => 'A created',
      (e: Error) => `A refused: ${e.message.slice(0, 160)}`,
    );
    await atPut;
    const rep = await runJanitor({ ...deps, config: { ...deps.config, janitor: { ...deps.config.janitor, graceSec: 0 } } });
    expect(rep.pendingSwept).toBe(2);
    const b = await publishFixture(srv, { h5Id: '55556666', version: '1.0.0.0', createApp: false });
    release();
    (real as any).putFile = origPutFile;
    const item = (await b.call('ListMcubeNebulaResources', { H5Id: '55556666' })).ListMcubeNebulaResourceResult.NebulaResourceInfo[0];
    expect({ amr: (await fetch(item.DownloadUrl)).status, h5json: (await fetch(item.Memo)).status }).toEqual({ amr: 200, h5json: 200 });
  });
  it('variant: the slow build\'s work folder survives (only its reservations are swept)', async () => {
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
    const a = publishFixture(srv, { h5Id: '77778888', version: '1.0.0.0' }).then(
      () => 'A created',
      (e: Error) => `A refused: ${e.message.slice(0, 160)}`,
    );
    await atPut;
    const rep = await runJanitor({ ...deps, config: { ...deps.config, packages: { ...deps.config.packages, workDir: deps.config.packages.workDir + '-elsewhere' }, janitor: { ...deps.config.janitor, graceSec: 0 } } });
    expect(rep.pendingSwept).toBe(2);
    const b = await publishFixture(srv, { h5Id: '77778888', version: '1.0.0.0', createApp: false });
    release();
    (real as any).putFile = origPutFile;
    const item = (await b.call('ListMcubeNebulaResources', { H5Id: '77778888' })).ListMcubeNebulaResourceResult.NebulaResourceInfo[0];
    expect({ amr: (await fetch(item.DownloadUrl)).status, h5json: (await fetch(item.Memo)).status }).toEqual({ amr: 200, h5json: 200 });
  });
});
