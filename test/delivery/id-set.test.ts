import { describe, expect, it } from 'vitest';
import { idSetOf, PackedIdSet, PACKED_FROM } from '../../packages/server/src/features/delivery/engine/id-set.js';
import { onList } from '../../packages/server/src/features/delivery/engine/select.js';
import { compileWhitelist } from '../../packages/server/src/features/delivery/snapshot.js';

describe('packed id set (big normal whitelists)', () => {
  const ids = Array.from({ length: 20_000 }, (_, i) => `user-${i}`).concat(['用户-甲', 'émile', 'a b', 'x'.repeat(256), 'Case']);
  const set = PackedIdSet.of(ids);

  it('holds exactly the ids it was given', () => {
    expect(set.size).toBe(ids.length);
    for (const id of ids) expect(set.has(id)).toBe(true);
  });

  it('matches exactly: no prefixes, suffixes, case variants or neighbours', () => {
    for (const id of ['user-', 'user-1x', 'xuser-1', 'user-20000', 'case', 'CASE', '用户-乙', 'emile', 'a  b', 'x'.repeat(255), 'x'.repeat(257), '']) {
      expect(set.has(id), id).toBe(false);
    }
  });

  it('is exact at every list size where the slot layout changes (entry bits vs hash bits)', () => {
    for (const n of [4095, 4096, 65535, 65536]) {
      const list = Array.from({ length: n }, (_, i) => `id${i}`);
      const packed = PackedIdSet.of(list);
      expect(packed.size).toBe(n);
      for (let i = 0; i < n; i++) if (!packed.has(`id${i}`)) throw new Error(`id${i} missing at size ${n}`);
      for (let i = n; i < 2 * n; i++) if (packed.has(`id${i}`)) throw new Error(`id${i} found at size ${n}`);
      expect(packed.has('ïd0')).toBe(false);
    }
  });

  it('ignores duplicates in its input', () => {
    expect(PackedIdSet.of(['a', 'b', 'a', 'a']).size).toBe(2);
  });

  it('small lists stay a Set, big ones are packed', () => {
    expect(idSetOf(['a', 'b'])).toBeInstanceOf(Set);
    const big = idSetOf(Array.from({ length: PACKED_FROM }, (_, i) => `u${i}`));
    expect(big).toBeInstanceOf(PackedIdSet);
    expect(big.has('u0')).toBe(true);
    expect(big.has(`u${PACKED_FROM}`)).toBe(false);
  });
});

describe('whitelist lookups', () => {
  it('a regex list is tested as one anchored alternation, with the same answers as one by one', () => {
    const exprs = ['qa-\\d{3}', 'ops\\.[a-z]+', 'a|b'];
    const wl = compileWhitelist(1, 'regex', exprs);
    expect(wl.any).not.toBeNull();
    for (const [id, want] of [
      ['qa-123', true],
      ['qa-1234', false],
      ['ops.x', true],
      ['opsx', false],
      ['a', true],
      ['ab', false],
      ['xqa-123', false],
    ] as const) {
      wl.memoKey = null;
      expect(onList(wl, id), id).toBe(want);
      expect(wl.regexes.some((r) => r.test(id))).toBe(want);
    }
  });

  it('falls back to one by one when the alternation does not compile (same named group twice)', () => {
    const wl = compileWhitelist(2, 'regex', ['(?<n>a)\\d', '(?<n>b)\\d']);
    expect(wl.any).toBeNull();
    expect(onList(wl, 'b1')).toBe(true);
    expect(onList(wl, 'c1')).toBe(false);
  });

  it('an expression V8 cannot run in linear time stays out of the alternation, which keeps its linear fallback', () => {
    // (?:a|a)* backtracks exponentially but falls back to V8's linear engine; b{17} cannot run there. Joined,
    // the alternation lost the fallback: an id of 29 "a" and a "!" held the event loop 4.6 s, each "a" more doubled it.
    const wl = compileWhitelist(4, 'regex', ['(?:a|a)*', 'b{17}', 'vip\\d+']);
    expect(wl.any).not.toBeNull();
    expect(() => new RegExp(wl.any!.source, 'l')).not.toThrow();
    expect(wl.rest.map((r) => r.source)).toEqual(['^(?:b{17})$']);
    for (const [id, want] of [
      ['aaaa', true],
      ['b'.repeat(17), true],
      ['b'.repeat(16), false],
      ['vip12', true],
      ['a'.repeat(60) + '!', false],
    ] as const) {
      wl.memoKey = null;
      expect(onList(wl, id), id).toBe(want);
    }
  });

  it('the per-list memo answers for the right user only', () => {
    const wl = compileWhitelist(3, 'normal', ['alice']);
    expect(onList(wl, 'alice')).toBe(true);
    expect(onList(wl, 'bob')).toBe(false);
    expect(onList(wl, 'alice')).toBe(true);
  });
});
