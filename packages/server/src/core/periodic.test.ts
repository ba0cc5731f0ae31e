import { describe, expect, it } from 'vitest';
import { betweenChunks } from '../db/bulk-pace.js';
import { handBack } from './hand-back.js';
import { periodic } from './periodic.js';

describe('periodic', () => {
  it('runs one job at a time, and stop() aborts the run in flight and waits for it to end', async () => {
    const seen: AbortSignal[] = [];
    let chunks = 0;
    let ended = false;
    const job = periodic(
      0,
      async (signal) => {
        seen.push(signal);
        // a bulk job of many chunks, checking the signal between them (the sweeps do)
        for (let n = 1; n <= 1_000_000; n++) {
          chunks++;
          if (!(await betweenChunks({ checkpointing: false }, n, signal))) break;
        }
        ended = true;
      },
      (e) => {
        throw e;
      },
    );
    const first = job.runNow();
    // asked again while running: the same run
    expect(job.runNow()).toBe(first);
    await handBack();
    await handBack();
    expect(chunks).toBeGreaterThan(0);
    await job.stop();
    expect(ended).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.aborted).toBe(true);
    expect(chunks).toBeLessThan(1_000_000);
    // stopped: no new run
    await job.runNow();
    expect(seen).toHaveLength(1);
  });

  it('logs a failed run through onError and runs again when asked', async () => {
    const errors: string[] = [];
    let runs = 0;
    const job = periodic(
      0,
      async () => {
        runs++;
        throw new Error(`boom ${runs}`);
      },
      (e) => errors.push(e.message),
    );
    await job.runNow();
    await job.runNow();
    expect(errors).toEqual(['boom 1', 'boom 2']);
    await job.stop();
  });
});

describe('betweenChunks', () => {
  it('cuts the checkpoint pause short when the signal is aborted, and says to stop', async () => {
    const ac = new AbortController();
    let result: boolean | null = null;
    // chunk 20 with the checkpointer thread running: the long pause (250 ms)
    const waiting = betweenChunks({ checkpointing: true }, 20, ac.signal).then((r) => (result = r));
    await handBack();
    expect(result).toBe(null);
    ac.abort();
    // settled by the abort itself, not by the pause's timer
    await handBack();
    expect(result).toBe(false);
    await waiting;
  });

  it('says to go on when not aborted, and to stop at once when already aborted', async () => {
    expect(await betweenChunks({ checkpointing: false }, 1)).toBe(true);
    const ac = new AbortController();
    ac.abort();
    expect(await betweenChunks({ checkpointing: true }, 20, ac.signal)).toBe(false);
  });
});
