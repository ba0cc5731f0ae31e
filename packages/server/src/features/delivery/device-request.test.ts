import { describe, expect, it } from 'vitest';
import { appMap, BadDeviceRequest, fieldsFromForm, parseCheck, scanAppMap, userKeyOf } from './device-request.js';
import { TextCache } from './text-cache.js';

/** The general path as it was before the scanner: JSON.parse, then the object's own key order. */
function reference(text: string): Array<[string, string]> {
  const v = JSON.parse(text) as Record<string, unknown>;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
  const out: Array<[string, string]> = [];
  for (const id in v) {
    const e = v[id];
    const version = typeof e === 'string' ? e : e && typeof e === 'object' ? (e as { version?: unknown }).version : undefined;
    out.push([id, typeof version === 'string' ? version.trim() : typeof version === 'number' ? String(version) : '']);
  }
  return out;
}

const entry = (id: string, version: string) => ({ app_id: id, version });

describe('app maps (query / existed)', () => {
  const usual = [
    JSON.stringify({ '20000001': entry('20000001', '1.0.7'), '10000002': entry('10000002', ' 2.0 '), h5app: entry('h5app', '3') }),
    JSON.stringify({ b: '1.0', a: '2.0', '7': '0.1', '0': '9' }),
    JSON.stringify({ 'nebula-*-all': entry('nebula-*-all', '0') }),
    JSON.stringify({ '1': { version: '1.0', app_id: '1', res: 'x' }, '2': {} }),
    '{}',
    ' { "x" : { "version" : "1" , "version" : "2" } , "y":"3" } ',
    '{"a":"1","b":"2","a":"3"}',
    '{"9":"1","3":"2","9":"3","b":"4","01":"5","4294967294":"6","4294967295":"7","0":"8"}',
    '{"__proto__":{"version":"1"},"constructor":"2"}',
    '{"用户":{"version":"版本 1"},"émile":"ü"}',
    JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [String(1000 - i * 7), entry(String(i), `1.${i}`)]))),
    JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i % 25}`, entry(String(i), `1.${i}`)]))),
  ];

  it('the scanner takes the usual shapes and gives exactly what JSON.parse and the key order give', () => {
    for (const text of usual) {
      const fast = scanAppMap(text);
      expect(fast, text).not.toBeNull();
      expect(fast, text).toEqual(reference(text));
      expect(appMap(text, 'query'), text).toEqual(reference(text));
    }
  });

  it('anything else goes the general way, with the same result or the same refusal', () => {
    const other = [
      '{"a":{"version":1.50}}',
      '{"a":1}',
      '{"a":{"version":"1","deep":{"x":1}}}',
      '{"a":{"version":"1","list":[1,2]}}',
      '{"a":"1\\u0030","b\\"c":"2"}',
      '{"a":null,"b":true,"c":false}',
      '{"a":{"version":null}}',
      '{"a":"1",}',
      '{"a" "1"}',
      '{"a":"1"} x',
      '{"a":"tab\there"}',
      '[1,2]',
      '"text"',
      '12',
      'null',
      '{not json',
      '',
    ];
    for (const text of other) {
      expect(scanAppMap(text), text).toBeNull();
      let want: unknown;
      try {
        want = text === '' ? null : reference(text);
      } catch {
        want = 'refused';
      }
      let got: unknown;
      try {
        got = appMap(text, 'query');
      } catch (err) {
        expect(err, text).toBeInstanceOf(BadDeviceRequest);
        got = 'refused';
      }
      expect(got, text).toEqual(want);
    }
  });

  it('more than 1,000 apps is refused on both paths', () => {
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`a${i}`, '1'])));
    expect(() => appMap(many, 'query')).toThrow(/more than 1000/);
    const manyNumbers = JSON.stringify(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`a${i}`, 1])));
    expect(() => appMap(manyNumbers, 'query')).toThrow(/more than 1000/);
    expect(appMap(JSON.stringify(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`a${i}`, '1']))), 'query')).toHaveLength(1000);
  });

  it('random maps: scanner and reference agree', () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const pieces = ['0', '1', '12', '01', '4294967294', '4294967295', 'a', 'nebula-*-all', '2000000', 'é', ' '];
    for (let round = 0; round < 500; round++) {
      const parts: string[] = [];
      for (let i = rnd(12); i > 0; i--) {
        const key = JSON.stringify(pieces[rnd(pieces.length)]! + (rnd(3) ? '' : pieces[rnd(pieces.length)]!));
        const version = JSON.stringify(`${rnd(3)}.${rnd(20)}${rnd(4) ? '' : ' '}`);
        const value = rnd(3) === 0 ? version : `{${rnd(2) ? `"app_id":${key},` : ''}"version":${version}${rnd(4) ? '' : ',"version":"9"'}}`;
        parts.push(`${key}:${value}`);
      }
      const text = `{${parts.join(rnd(2) ? ',' : ' , ')}}`;
      expect(scanAppMap(text), text).toEqual(reference(text));
    }
  });
});

describe('form fields', () => {
  const map = JSON.stringify({ '10000001': entry('10000001', '1.0.7'), '10000002': entry('10000002', '1.0.7') });

  it('query and existed sent as the same text are decoded once, into the same string', () => {
    const f = fieldsFromForm(new URLSearchParams({ platform: 'android', query: map, existed: map, userId: 'u 1' }).toString());
    expect(f.query).toBe(map);
    expect(f.existed).toBe(f.query);
    expect(f.userId).toBe('u 1');
  });

  it('long values decode the same on every request (cached), and a bad one is refused every time', () => {
    const body = new URLSearchParams({ query: map, existed: map.replace('1.0.7', '1.0.6') }).toString();
    for (let i = 0; i < 3; i++) {
      const f = fieldsFromForm(body);
      expect(f.query).toBe(map);
      expect(f.existed).toBe(map.replace('1.0.7', '1.0.6'));
    }
    const bad = `query=${encodeURIComponent(map)}%E0%A4&existed=x`;
    for (let i = 0; i < 3; i++) expect(() => fieldsFromForm(bad)).toThrow(BadDeviceRequest);
    const plain = 'query=' + 'a'.repeat(100);
    expect(fieldsFromForm(plain).query).toBe('a'.repeat(100));
  });

  it('the user key: userId or user_id, else deviceId, utdid or diu, in that order', () => {
    const key = (fields: Record<string, string>) => {
      const f = fieldsFromForm(new URLSearchParams({ platform: 'android', client: '2.0', ...fields }).toString());
      return [userKeyOf(f), parseCheck(f, userKeyOf(f), 0).check.userId];
    };
    expect(key({ userId: 'a', user_id: 'b', deviceId: 'd' })).toEqual(['a', 'a']);
    expect(key({ user_id: ' b ', deviceId: 'd' })).toEqual(['b', 'b']);
    expect(key({ deviceId: 'd', utdid: 'u', diu: 'x' })).toEqual(['d', '']);
    expect(key({ utdid: 'u', diu: 'x' })).toEqual(['u', '']);
    expect(key({ diu: 'x' })).toEqual(['x', '']);
    expect(key({})).toEqual(['', '']);
    expect(() => key({ user_id: 'a\u0000' })).toThrow(BadDeviceRequest);
  });

  it('parseCheck: the same asked and installed apps with existed equal to query, absent, or different', () => {
    const base = { platform: 'ios', client: '2.0', userId: 'u1' };
    const same = parseCheck(fieldsFromForm(new URLSearchParams({ ...base, query: map, existed: map }).toString()), 'u1', 0);
    const only = parseCheck(fieldsFromForm(new URLSearchParams({ ...base, query: map }).toString()), 'u1', 0);
    const other = parseCheck(fieldsFromForm(new URLSearchParams({ ...base, query: map, existed: JSON.stringify({ '10000002': '2.0' }) }).toString()), 'u1', 0);
    for (const p of [same, only, other]) expect(p.asked).toEqual(['10000001', '10000002']);
    expect([...same.installed].map(([id, v]) => [id, v.text])).toEqual([
      ['10000001', '1.0.7'],
      ['10000002', '1.0.7'],
    ]);
    expect([...only.installed].map(([id, v]) => [id, v.text])).toEqual([...same.installed].map(([id, v]) => [id, v.text]));
    expect([...other.installed].map(([id, v]) => [id, v.text])).toEqual([
      ['10000001', '1.0.7'],
      ['10000002', '2.0'],
    ]);
    const all = parseCheck(fieldsFromForm(new URLSearchParams({ ...base, query: JSON.stringify({ 'nebula-*-all': entry('nebula-*-all', '0') }) }).toString()), 'u1', 0);
    expect(all.asked).toBe('all');
  });
});

describe('TextCache', () => {
  it('drops everything when the entries or their characters pass the bounds; skips outsized entries', () => {
    const c = new TextCache<number>(3, 1600);
    c.set('a', 1, 0);
    c.set('b', 2, 0);
    c.set('c', 3, 0);
    expect(c.size).toBe(3);
    c.set('d', 4, 0);
    expect(c.size).toBe(1);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('d')).toBe(4);
    c.set('x'.repeat(200), 5, 0); // more than 1/16 of the characters
    expect(c.get('x'.repeat(200))).toBeUndefined();
    const byChars = new TextCache<number>(100, 1600);
    for (let i = 0; i < 16; i++) byChars.set(`k${String(i).padStart(2, '0')}`, i, 97); // 100 characters each
    expect(byChars.size).toBe(16);
    byChars.set('k16', 16, 97); // 1,700 > 1,600: starts afresh
    expect(byChars.size).toBe(1);
    expect(byChars.get('k00')).toBeUndefined();
    expect(byChars.get('k16')).toBe(16);
  });
});
