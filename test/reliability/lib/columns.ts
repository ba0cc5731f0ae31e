import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The columns every suite reports, in table order (see docs/reliability.md). */
export const COLUMNS = [
  'inputsTried',
  'crashes',
  'hangs',
  'forgedOrForeignAccepted',
  'overAdmissions',
  'orphansLeft',
  'bytesFetchedFromForeignUrls',
] as const;
export type Column = (typeof COLUMNS)[number];

export const COLUMN_TITLES: Record<Column, string> = {
  inputsTried: 'inputs tried',
  crashes: 'crashes',
  hangs: 'hangs',
  forgedOrForeignAccepted: 'forged/foreign accepted',
  overAdmissions: 'over-admissions',
  orphansLeft: 'orphans left',
  bytesFetchedFromForeignUrls: 'bytes fetched from foreign URLs',
};

export interface SuiteReport {
  suite: string;
  db: string;
  seed: number | null;
  startedAt: string;
  finishedAt: string;
  figures: Record<Column, number>;
  /** what a column counts in this suite, or why it does not apply ("n/a: ...") */
  notes: Partial<Record<Column, string>>;
  /** further failure counters of this suite; each must be 0 too */
  checks: Record<string, number>;
  /** measured values that are not pass/fail (memory growth, durations, counts by kind) */
  extra: Record<string, unknown>;
}

/** Where suites write their figures: MCUBE_RELIABILITY_OUT, else <os tmpdir>/mcube-reliability. */
export function reliabilityOutDir(): string {
  return process.env.MCUBE_RELIABILITY_OUT || join(tmpdir(), 'mcube-reliability');
}

/** The suites, in the order they were built and are reported (each is test/reliability/<suite>.test.ts). */
export const SUITES = ['fuzz-rpc', 'hostile-archives', 'foreign-urls', 'tenant-isolation', 'concurrency', 'crash-consistency', 'secrets', 'audit'] as const;
