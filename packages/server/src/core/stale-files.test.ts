import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { holdEntry, sweepStaleEntries } from './stale-files.js';

const root = mkdtempSync(join(tmpdir(), 'mcube-stale-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hourAgo = () => new Date(Date.now() - 3600_000);

describe('sweepStaleEntries', () => {
  it('leaves a folder a build of this process holds, however old its own time, and takes it once released', async () => {
    const build = join(root, 'mcube-nebula-1');
    mkdirSync(join(build, 'mcube-amr-1'), { recursive: true });
    // the build writes below its folder: the folder's own time stays where it was
    utimesSync(build, hourAgo(), hourAgo());
    writeFileSync(join(build, 'mcube-amr-1', 'x.tar'), 'x');
    const release = holdEntry(build, 60_000);
    expect(await sweepStaleEntries(root, 60_000, Date.now(), 'mcube-')).toBe(0);
    expect(existsSync(join(build, 'mcube-amr-1', 'x.tar'))).toBe(true);
    release();
    expect(await sweepStaleEntries(root, 60_000, Date.now(), 'mcube-')).toBe(1);
    expect(existsSync(build)).toBe(false);
  });

  it('a held folder is touched, so another process sharing the folder does not judge it stale', async () => {
    const build = join(root, 'mcube-nebula-2');
    mkdirSync(build);
    utimesSync(build, hourAgo(), hourAgo());
    const release = holdEntry(build, 20);
    try {
      for (let i = 0; i < 50 && Date.now() - statSync(build).mtimeMs > 60_000; i++) await new Promise((r) => setTimeout(r, 20));
      expect(Date.now() - statSync(build).mtimeMs).toBeLessThan(60_000);
    } finally {
      release();
    }
  });
});
