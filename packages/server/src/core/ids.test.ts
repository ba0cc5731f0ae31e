import { afterEach, describe, expect, it } from 'vitest';
import { formatDateTime, parseWireDateTime, releaseVersionOf, setWireTimeZone, zoneOffsetMinutes } from './ids.js';

afterEach(() => setWireTimeZone(0));

describe('wire times', () => {
  // the guide's example task: taskVersion 1612160218556 shown as gmtCreate "2021-02-01 14:16:58" (China Standard Time)
  const created = 1612160218556;

  it('are written and read in UTC by default', () => {
    expect(formatDateTime(created)).toBe('2021-02-01 06:16:58');
    expect(releaseVersionOf(created)).toBe('20210201061658');
    expect(parseWireDateTime('2021-02-01 06:16:58')).toBe(Math.floor(created / 1000) * 1000);
  });

  it('in the configured zone: +08:00 gives the vendor\'s own rendering of its example', () => {
    setWireTimeZone(zoneOffsetMinutes('+08:00')!);
    expect(formatDateTime(created)).toBe('2021-02-01 14:16:58');
    expect(releaseVersionOf(created)).toBe('20210201141658');
    expect(parseWireDateTime('2021-02-01 14:16:58')).toBe(Math.floor(created / 1000) * 1000);
  });

  it('an explicit zone wins over the configured one', () => {
    setWireTimeZone(480);
    const t = Date.UTC(2026, 0, 31, 12, 0, 0);
    expect(parseWireDateTime('2026-01-31 12:00:00Z')).toBe(t);
    expect(parseWireDateTime('2026-01-31T12:00:00Z')).toBe(t);
    expect(parseWireDateTime('2026-01-31 20:00:00+08:00')).toBe(t);
    expect(parseWireDateTime('2026-01-31 06:30:00-05:30')).toBe(t);
    expect(parseWireDateTime('2026-01-31 20:00:00')).toBe(t);
  });

  it('a zone no place has is refused, not read as UTC', () => {
    for (const zone of ['+15:00', '-23:59', '+14:60', '+99:00']) expect(parseWireDateTime(`2026-01-31 12:00:00${zone}`), zone).toBeNull();
    expect(parseWireDateTime('2026-01-31 12:00:00+14:00')).toBe(Date.UTC(2026, 0, 30, 22, 0, 0));
  });

  it('reads the fraction toISOString() writes, to the millisecond', () => {
    const t = new Date('2026-12-07T03:34:47.434Z');
    expect(parseWireDateTime(t.toISOString())).toBe(t.getTime());
    expect(parseWireDateTime('2026-12-07T03:34:47.4Z')).toBe(Date.UTC(2026, 11, 7, 3, 34, 47, 400));
    expect(parseWireDateTime('2026-12-07 11:34:47.434999+08:00')).toBe(t.getTime());
    setWireTimeZone(8 * 60);
    expect(parseWireDateTime('2026-12-07 11:34:47.434')).toBe(t.getTime());
  });

  it('refuses what is no such time', () => {
    for (const bad of ['2026-01-31 10:00:00.', '2026-01-31 10:00:00.1234567890Z', '2026-02-30 10:00:00', '2026-01-31 24:00:00', '2026-01-31', '31/01/2026 10:00:00', '2026-01-31 10:00:00+8', '2026-01-31 10:00:00 UTC']) {
      expect(parseWireDateTime(bad), bad).toBeNull();
    }
    expect(zoneOffsetMinutes('+15:00')).toBeNull();
    expect(zoneOffsetMinutes('Asia/Shanghai')).toBeNull();
    expect(zoneOffsetMinutes('UTC')).toBe(0);
  });
});
