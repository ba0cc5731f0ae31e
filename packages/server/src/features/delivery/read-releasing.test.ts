import { describe, expect, it } from 'vitest';
import { readReleasing } from './snapshot-loader.js';

/** A table of releasing rows by id, paged as the loaders page it; `during` runs after each first page is read. */
function table(ids: number[], during: (rows: Set<number>, stamp: { v: number }) => void = () => {}) {
  const rows = new Set(ids);
  const stamp = { v: 1 };
  let pagesRead = 0;
  let stampReads = 0;
  return {
    stampNow: async () => (stampReads++, stamp.v),
    page: async (after: number, size: number) => {
      const got = [...rows].filter((id) => id > after).sort((a, b) => a - b).slice(0, size).map((id) => ({ id }));
      pagesRead++;
      if (after === 0) during(rows, stamp);
      return got;
    },
    counts: () => ({ pagesRead, stampReads }),
  };
}

describe('readReleasing: releasing rows in pages, consistent with the stamp', () => {
  it('reads every row in id order, one stamp read when it all fits one page', async () => {
    const t = table([5]);
    expect(await readReleasing(t.stampNow, t.page, 2)).toEqual({ stamp: 1, rows: [{ id: 5 }] });
    const many = table([1, 2, 3, 4, 5]);
    expect((await readReleasing(many.stampNow, many.page, 2)).rows.map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    expect(t.counts()).toEqual({ pagesRead: 1, stampReads: 1 });
  });

  it('reads the pages again when a change committed between them, so no half-changed state is kept', async () => {
    // one change: task 1 ends and task 9 is released, after the first page was read
    let changed = false;
    const t = table([1, 2, 3, 4], (rows, stamp) => {
      if (changed) return;
      changed = true;
      rows.delete(1);
      rows.add(9);
      stamp.v = 2;
    });
    const { stamp, rows } = await readReleasing(t.stampNow, t.page, 2);
    expect(rows.map((r) => r.id)).toEqual([2, 3, 4, 9]);
    expect(stamp).toBe(2);
  });

  it('keeps the stamp read before its last attempt when changes never stop, so the next check rebuilds', async () => {
    const t = table([1, 2, 3], (_rows, stamp) => {
      stamp.v++;
    });
    const { stamp } = await readReleasing(t.stampNow, t.page, 2);
    // three attempts (the last one is not checked again); the stamp returned is older than the database's
    expect(t.counts().stampReads).toBe(5);
    expect(stamp).toBeLessThan(await t.stampNow());
  });
});
