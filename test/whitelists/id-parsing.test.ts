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

describe('whitelist files that are not UTF-8 text', () => {
  const refusal = (chunks: Buffer[]) => collect(chunks).then(
    () => null,
    (e: { code?: string; message: string }) => e,
  );

  it('refuses Latin-1, GBK and binary bytes instead of storing replacement characters, whatever the chunking', async () => {
    for (const bytes of [Buffer.from('jos\xe9\njos\xe8\nplain\n', 'latin1'), Buffer.from([0xd5, 0xc5, 0xc8, 0xfd, 0x2c, 0x61]), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0x0a, 0x41, 0x42])]) {
      for (const size of [1, 3, 1024]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
        const err = await refusal(chunks);
        expect(err?.code, `${bytes.toString('hex')} / ${size}`).toBe('InvalidFileEncoding');
      }
    }
    // a multi-byte character cut off at the very end of the file
    expect((await refusal([Buffer.from('alice\nzo\xc3', 'latin1')]))?.code).toBe('InvalidFileEncoding');
  });

  it('reads UTF-16 files by their byte-order mark (Excel "Unicode text")', async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('alice\r\nbob,用户一\r\n', 'utf16le')]);
    const be = Buffer.from(le.subarray(2)).swap16();
    for (const bytes of [le, Buffer.concat([Buffer.from([0xfe, 0xff]), be])]) {
      for (const size of [1, 3, 1024]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
        expect((await collect(chunks)).map((p) => p.value)).toEqual(['alice', 'bob', '用户一']);
      }
    }
  });
});
