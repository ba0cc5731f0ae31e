import { describe, expect, it } from 'vitest';
import {
  ID_SEPARATORS,
  idProblem,
  MAX_RAW_PIECE,
  REGEX_SEPARATORS,
  splitPieces,
  streamPieces,
  type Piece,
} from '../../packages/server/src/features/whitelists/id-parsing.js';

async function collect(chunks: Buffer[], sep = ID_SEPARATORS): Promise<Piece[]> {
  const out: Piece[] = [];
  for await (const p of streamPieces(chunks, sep)) out.push(p);
  return out;
}

/** Cuts a buffer into pieces of `size` bytes, splitting multi-byte characters and separators across chunks. */
const chunked = (text: string, size: number) => {
  const buf = Buffer.from(text, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
};

describe('id parsing', () => {
  const text = '\uFEFFalice, bob\r\n  carol  \n\n,,用户一\r\nzoë,\n';
  const expected = ['alice', 'bob', 'carol', '用户一', 'zoë'];

  it('splits inline text on commas and line breaks, trimming and dropping empty pieces', () => {
    expect(splitPieces(' a ,b\r\nc\n\n,, ', ID_SEPARATORS).map((p) => p.value)).toEqual(['a', 'b', 'c']);
    expect(splitPieces('x{1,3}\r\n y \n', REGEX_SEPARATORS).map((p) => p.value)).toEqual(['x{1,3}', 'y']);
  });

  it('streams the same pieces whatever the chunk boundaries (BOM, CRLF, multi-byte characters)', async () => {
    for (const size of [1, 2, 3, 5, 7, 1024]) {
      const got = await collect(chunked(text, size));
      expect(got.map((p) => p.value), `chunk size ${size}`).toEqual(expected);
      expect(got.every((p) => !p.overLong)).toBe(true);
    }
  });

  it('flags over-long pieces without holding them whole', async () => {
    const huge = 'h'.repeat(MAX_RAW_PIECE * 3);
    const got = await collect(chunked(`a,${huge},b,${'k'.repeat(257)}`, 100));
    expect(got.map((p) => [p.value.slice(0, 3), p.overLong, idProblem(p) !== null])).toEqual([
      ['a', false, false],
      ['hhh', true, true],
      ['b', false, false],
      ['kkk', false, true],
    ]);
    expect(got[1]!.value.length).toBeLessThanOrEqual(64);
  });

  it('refuses ids with control characters and accepts exactly 256 characters', () => {
    expect(idProblem({ value: 'a\u0000b', overLong: false })).toMatch(/control/);
    expect(idProblem({ value: 'a\tb', overLong: false })).toMatch(/control/);
    expect(idProblem({ value: 'z'.repeat(256), overLong: false })).toBeNull();
    expect(idProblem({ value: 'z'.repeat(257), overLong: false })).toMatch(/256/);
  });
});
