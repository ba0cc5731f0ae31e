import { randomUUID } from 'node:crypto';

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

/**
 * The zone of the zone-less times on the wire ("yyyy-MM-dd HH:mm:ss",
 * releaseVersion), from MCUBE_WIRE_TIME_ZONE: UTC by default; the vendor's
 * service writes China Standard Time (+08:00), so scripts written for it set
 * that. One per process: a node sets it when it starts.
 */
let wireOffsetMs = 0;
export function setWireTimeZone(offsetMinutes: number): void {
  wireOffsetMs = offsetMinutes * 60_000;
}

/** yyyyMMddHHmmss in the wire zone, the vendor's "releaseVersion" shape. */
export function releaseVersionOf(ms: number): string {
  return new Date(ms + wireOffsetMs).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** "yyyy-MM-dd HH:mm:ss" in the wire zone, the vendor's gmt*Str shape. */
export function formatDateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  return new Date(ms + wireOffsetMs).toISOString().replace('T', ' ').slice(0, 19);
}

/** What parseWireDateTime reads, for the messages that refuse a time. */
export const WIRE_TIME_FORMS =
  '"yyyy-MM-dd HH:mm:ss" in the wire zone (UTC unless MCUBE_WIRE_TIME_ZONE says otherwise), or with its own zone and optional fraction, e.g. 2026-12-07T03:34:47.434Z or 2026-12-07 11:34:47+08:00';

/**
 * Epoch ms of "yyyy-MM-dd HH:mm:ss" read in the wire zone, or of the same with
 * an explicit zone ("Z", "+08:00"; "T" for the space allowed) and a fraction of
 * a second, which mcube's own SDK and toISOString() send; null when it is no
 * such time or no real date.
 */
export function parseWireDateTime(raw: string): number | null {
  // a fraction of a second is what JavaScript's toISOString() writes: kept to the millisecond
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/.exec(raw.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(local);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  if (m[8] === undefined) return local - wireOffsetMs;
  // a zone no place has (+15:00, +14:60) is refused, not read as UTC
  const zone = zoneOffsetMinutes(m[8]);
  return zone === null ? null : local - zone * 60_000;
}

/** Minutes east of UTC of "Z", "UTC" or "±HH:MM"; null for anything else. */
export function zoneOffsetMinutes(zone: string): number | null {
  if (zone === 'Z' || zone.toUpperCase() === 'UTC') return 0;
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(zone);
  if (!m || Number(m[2]) > 14 || Number(m[3]) > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}
