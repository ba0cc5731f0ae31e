import { mkdirSync, existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJanitor } from '../../packages/server/src/features/janitor/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  await srv.close();
});

/** A file or folder as a killed writer leaves it, last touched `ageSec` ago. */
function leftover(path: string, ageSec: number, folder = false): string {
  if (folder) {
    mkdirSync(join(path, 'unpacked', 'deep'), { recursive: true });
    writeFileSync(join(path, 'unpacked', 'deep', 'index.html'), 'x'.repeat(1000));
  } else writeFileSync(path, 'partial upload');
  const t = (Date.now() - ageSec * 1000) / 1000;
  utimesSync(path, t, t);
  return path;
}

describe('janitor: leftovers of killed writers', () => {
  it('removes package work folders and local temp files older than the grace period, and keeps younger ones', async () => {
    const { deps } = srv.node;
    const work = deps.config.packages.workDir;
    const tmp = join(srv.env.dataDir, 'blobs', '.tmp');
    mkdirSync(work, { recursive: true });
    const oldBuild = leftover(join(work, 'mcube-amr-44440001-old'), 7200, true);
    const liveBuild = leftover(join(work, 'mcube-amr-44440001-live'), 10, true);
    // MCUBE_WORK_DIR may be a folder other programs use too: only mcube's own entries are swept
    const theirs = leftover(join(work, 'someone-elses-cache'), 7200, true);
    const theirFile = leftover(join(work, 'notes.txt'), 7200);
    const oldPart = leftover(join(tmp, 'old.part'), 7200);
    const livePart = leftover(join(tmp, 'live.part'), 10);

    const report = await runJanitor({ ...deps, config: { ...deps.config, janitor: { ...deps.config.janitor, graceSec: 3600 } } });

    expect(report.tempSwept).toBe(2);
    expect([oldBuild, oldPart].map(existsSync)).toEqual([false, false]);
    expect([liveBuild, livePart, theirs, theirFile].map(existsSync)).toEqual([true, true, true, true]);
    // nothing else is taken for a leftover
    expect(report).toMatchObject({ pendingSwept: 0, deletedSwept: 0, orphansSwept: 0 });
    expect((await runJanitor({ ...deps, config: { ...deps.config, janitor: { ...deps.config.janitor, graceSec: 3600 } } })).tempSwept).toBe(0);
  });

  it('a missing work folder is nothing to sweep', async () => {
    const { deps } = srv.node;
    const report = await runJanitor({ ...deps, config: { ...deps.config, packages: { ...deps.config.packages, workDir: join(srv.env.dataDir, 'never-made') } } });
    expect(report.tempSwept).toBe(0);
  });
});
