import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { testDb } from '../../helpers/server.js';
import { COLUMNS, reliabilityOutDir, type Column, type SuiteReport } from './columns.js';

export { COLUMNS, COLUMN_TITLES, reliabilityOutDir, type Column, type SuiteReport } from './columns.js';

/**
 * The figures of one suite. Tests add to them as they go; the suite writes
 * them once at the end (afterAll) and asserts that every column but
 * "inputs tried" is zero, as are the suite's own checks.
 */
export class SuiteFigures {
  private readonly figures = Object.fromEntries(COLUMNS.map((c) => [c, 0])) as Record<Column, number>;
  private readonly checks: Record<string, number> = {};
  private readonly extras: Record<string, unknown> = {};
  private readonly startedAt = new Date().toISOString();

  constructor(
    readonly suite: string,
    private readonly notes: Partial<Record<Column, string>>,
    private readonly seed: number | null = null,
  ) {}

  add(column: Column, n = 1): void {
    this.figures[column] += n;
  }

  get(column: Column): number {
    return this.figures[column];
  }

  /** registers a further zero-asserted counter (created at 0 so the report always lists it) */
  check(name: string, n = 0): void {
    this.checks[name] = (this.checks[name] ?? 0) + n;
  }

  extra(name: string, value: unknown): void {
    this.extras[name] = value;
  }

  report(): SuiteReport {
    return {
      suite: this.suite,
      db: testDb,
      seed: this.seed,
      startedAt: this.startedAt,
      finishedAt: new Date().toISOString(),
      figures: { ...this.figures },
      notes: this.notes,
      checks: { ...this.checks },
      extra: { ...this.extras },
    };
  }

  write(): string {
    const dir = reliabilityOutDir();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.suite}.json`);
    writeFileSync(file, JSON.stringify(this.report(), null, 2) + '\n');
    return file;
  }

  /** the suite's closing assertion */
  expectClean(): void {
    const r = this.report();
    const { inputsTried, ...failures } = r.figures;
    expect(inputsTried, 'the suite tried no inputs').toBeGreaterThan(0);
    expect({ ...failures, ...r.checks }).toEqual(Object.fromEntries([...Object.keys(failures), ...Object.keys(r.checks)].map((k) => [k, 0])));
  }
}
