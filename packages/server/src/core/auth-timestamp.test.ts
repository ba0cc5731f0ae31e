import { describe, expect, it } from 'vitest';
import { checkTimestamp } from './auth.js';

// checkTimestamp remembers the last string it parsed; what it remembers must never stand in for the skew check
describe('checkTimestamp', () => {
  const ts = '2026-12-07T10:00:00Z';
  const at = Date.parse(ts);

  it('checks the skew of a remembered timestamp against each call\'s clock', () => {
    expect(() => checkTimestamp(ts, at, 900)).not.toThrow();
    expect(() => checkTimestamp(ts, at + 901_000, 900)).toThrow(expect.objectContaining({ code: 'InvalidTimeStamp.Expired' }));
    expect(() => checkTimestamp(ts, at - 901_000, 900)).toThrow(expect.objectContaining({ code: 'InvalidTimeStamp.Expired' }));
    expect(() => checkTimestamp(ts, at + 899_000, 900)).not.toThrow();
  });

  it('refuses a malformed or impossible timestamp after a valid one, and again when it repeats', () => {
    expect(() => checkTimestamp(ts, at, 900)).not.toThrow();
    for (const bad of ['2026-02-29T10:00:00Z', '2026-12-07T24:00:00Z', '2026-12-07T10:00:00.000Z', ts + ' ']) {
      expect(() => checkTimestamp(bad, at, 900)).toThrow(expect.objectContaining({ code: 'InvalidTimeStamp.Format' }));
      expect(() => checkTimestamp(bad, at, 900)).toThrow(expect.objectContaining({ code: 'InvalidTimeStamp.Format' }));
    }
    expect(() => checkTimestamp(ts, at, 900)).not.toThrow();
  });
});
