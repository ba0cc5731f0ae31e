import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';

/** config.ts is the only module that reads the environment; docs/configuration.md documents each variable once. */
const source = readFileSync(join(ROOT, 'packages/server/src/config.ts'), 'utf8');
const docs = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
const NAME = /^(MCUBE_[A-Z0-9_]+|DATABASE_URL)$/;

const read = new Set([...source.matchAll(/env\.([A-Z][A-Z0-9_]+)|\(env, '([A-Z][A-Z0-9_]+)'/g)].map((m) => (m[1] ?? m[2])!).filter((n) => NAME.test(n)));
// a table row documents the names in its first cell (`A` or `A` / `B`)
const rows = docs.split('\n').filter((l) => l.startsWith('| `'));
const documented = rows.flatMap((l) => [...l.split(' | ')[0]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!));

describe('docs/configuration.md', () => {
  it('documents every variable config.ts reads, each once, and none that it does not read', () => {
    expect(read.size).toBeGreaterThan(40);
    expect([...read].filter((n) => !documented.includes(n))).toEqual([]);
    expect(documented.filter((n, i) => documented.indexOf(n) !== i)).toEqual([]);
    expect(documented.filter((n) => NAME.test(n) && !read.has(n))).toEqual([]);
  });
});
