import { randomUUID } from 'node:crypto';

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

/** yyyyMMddHHmmss in UTC, the vendor's "releaseVersion" shape. */
export function releaseVersionOf(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** "yyyy-MM-dd HH:mm:ss" in UTC, the vendor's gmt*Str shape. */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
