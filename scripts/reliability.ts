import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { COLUMNS, COLUMN_TITLES, reliabilityOutDir, SUITES, type SuiteReport } from '../test/reliability/lib/columns.js';

/**
 * Runs the reliability suites (test/reliability) with vitest, one file after
 * the other, on SQLite, or on PostgreSQL with MCUBE_TEST_DB=postgres, then
 * prints one table of their figures. Usage:
 *   npm run reliability                      all suites
 *   npm run reliability -- fuzz-rpc audit    some of them
 * Every column but "inputs tried" must be 0; see docs/reliability.md.
 */
const root = join(import.meta.dirname, '..');
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(SUITES as readonly string[]).includes(w));
if (unknown.length) {
  process.stderr.write(`unknown suite(s): ${unknown.join(', ')}; known: ${SUITES.join(', ')}\n`);
  process.exit(2);
}
const suites = wanted.length ? SUITES.filter((s) => wanted.includes(s)) : [...SUITES];
const out = reliabilityOutDir();
const db = process.env.MCUBE_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
for (const s of suites) rmSync(join(out, `${s}.json`), { force: true });

const vitest = spawnSync(
  join(root, 'node_modules', '.bin', 'vitest'),
  ['run', '--maxWorkers=1', ...suites.map((s) => `test/reliability/${s}.test.ts`)],
  { cwd: root, stdio: 'inherit', env: { ...process.env, MCUBE_RELIABILITY_OUT: out } },
);

const header = ['suite', ...COLUMNS.map((c) => COLUMN_TITLES[c])];
const rows: string[][] = [];
const problems: string[] = [];
for (const s of suites) {
  const file = join(out, `${s}.json`);
  if (!existsSync(file)) {
    rows.push([s, ...COLUMNS.map(() => 'not run')]);
    problems.push(`${s}: no figures written`);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8')) as SuiteReport;
  rows.push([s, ...COLUMNS.map((c) => String(r.figures[c]))]);
  for (const c of COLUMNS) if (c !== 'inputsTried' && r.figures[c] !== 0) problems.push(`${s}: ${COLUMN_TITLES[c]} = ${r.figures[c]}`);
  for (const [k, v] of Object.entries(r.checks)) if (v !== 0) problems.push(`${s}: ${k} = ${v}`);
  if (r.figures.inputsTried === 0) problems.push(`${s}: no inputs tried`);
}
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
const table = [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`, ...rows.map(line)].join('\n');
process.stdout.write(`\nReliability figures (${db}; JSON per suite in ${out})\n\n${table}\n\n`);
if (problems.length) process.stdout.write(`Not clean:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
else process.stdout.write('Every column but "inputs tried" is 0, and so is every further check of the suites.\n');
process.exit(vitest.status === 0 && problems.length === 0 ? 0 : 1);
