import { describe, expect, it } from 'vitest';
import { handBack } from '../../packages/server/src/core/hand-back.js';
import { planLayout } from '../../packages/server/src/features/packages/layout.js';
import type { ScannedEntry } from '../../packages/server/src/features/packages/zip-scan.js';
import { turnsDuring } from '../helpers/turns.js';

const mtime = new Date('2024-01-02T03:04:05Z');
const file = (name: string): ScannedEntry => ({ name, dir: false, size: 1, compressedSize: 1, crc32: 0, mtime, entry: null as unknown as ScannedEntry['entry'] });
const input = { h5Id: '12345678', resourceType: 1 as const, appId: 'ALIPUB0000001', workspaceId: 'default', maxEntries: 100_000, mtime };

describe('laying out a zip of thousands of files', () => {
  it('hands the event loop back between slices and plans the same as in one go', async () => {
    const entries = Array.from({ length: 6500 }, (_, i) => file(`12345678/www/d${i % 50}/f${i}.js`));
    const { value: sliced, turns } = await turnsDuring(() => planLayout(entries, input, handBack));
    const whole = await planLayout(entries, input);
    expect(turns).toBeGreaterThanOrEqual(3);
    expect(sliced.files).toBe(6500);
    // 6,500 files, www/ and its 50 folders
    expect(sliced.items.length).toBe(6500 + 51);
    expect(sliced.items.map((i) => i.path)).toEqual(whole.items.map((i) => i.path));
  });
});
