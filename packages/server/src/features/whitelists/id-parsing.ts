import { BusinessError } from '../../core/errors.js';
import { TextDecoder } from 'node:util';
import { CONTROL_CHARS } from '../../core/text.js';

export const MAX_ID_LENGTH = 256;
/** A raw piece (before trimming) longer than this is a failure whatever it holds, so streaming memory stays bounded. */
export const MAX_RAW_PIECE = 4096;

/** Normal lists: ids are separated by commas or line breaks. */
export const ID_SEPARATORS = /[,\r\n]/;
/** Regular-expression lists: one expression per line (commas belong to the syntax, e.g. {1,3}). */
export const REGEX_SEPARATORS = /[\r\n]/;

export interface Piece {
  /** trimmed text; for an over-long raw piece only its beginning */
  value: string;
  overLong: boolean;
}


/** Why a normal-list id fails, or null when it is stored. Length counts UTF-16 code units. */
export function idProblem(p: Piece): string | null {
  if (p.overLong || p.value.length > MAX_ID_LENGTH) return 'longer than 256 characters';
  if (CONTROL_CHARS.test(p.value)) return 'contains control characters';
  return null;
}

/** Splits inline text into trimmed, non-empty pieces. */
export function splitPieces(text: string, separators: RegExp): Piece[] {
  const out: Piece[] = [];
  for (const raw of text.split(new RegExp(separators.source, 'g'))) {
    const value = raw.trim();
    if (value) out.push({ value, overLong: raw.length > MAX_RAW_PIECE });
  }
  return out;
}

/**
 * Splits a byte stream into trimmed, non-empty pieces without ever holding more than one
 * chunk and one bounded piece in memory. The text is UTF-8 (a BOM is dropped), or UTF-16
 * when a UTF-16 byte-order mark says so (Excel's "Unicode text"). Bytes that are not
 * text in that encoding (a Latin-1 or GBK export, a binary file) refuse the whole file:
 * read with replacement characters, "josé" and "josè" became one id no device ever sends,
 * and the answer counted them as added.
 */
export async function* streamPieces(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, separators: RegExp): AsyncGenerator<Piece> {
  let decoder: TextDecoder | null = null;
  let encoding = 'utf-8';
  let head = Buffer.alloc(0);
  let offset = 0;
  const notText = (bytes: Buffer, what: string) =>
    new BusinessError(
      'InvalidFileEncoding',
      `The file is not ${encoding === 'utf-8' ? 'UTF-8' : 'UTF-16'} text (${what}, within bytes ${offset}-${offset + bytes.length} of the file); save it as UTF-8 text and upload it again. Nothing was added.`,
    );
  const decode = (bytes: Buffer, stream: boolean): string => {
    let text: string;
    try {
      text = decoder!.decode(bytes, { stream });
    } catch {
      throw notText(bytes, 'a byte sequence that is no character');
    }
    // valid UTF-8, but no text file holds NUL: a binary file (a zip, a spreadsheet) must not be partly imported
    if (text.includes('\u0000')) throw notText(bytes, 'a NUL byte');
    return text;
  };
  const sep = new RegExp(separators.source, 'g');
  let carry = '';
  let overLong = false;
  let first = true;
  const emit = (raw: string): Piece | null => {
    const value = raw.trim();
    const piece = overLong ? { value: value.slice(0, 64), overLong: true } : value ? { value, overLong: raw.length > MAX_RAW_PIECE } : null;
    overLong = false;
    return piece;
  };
  function* take(text: string): Generator<Piece> {
    const parts = text.split(sep);
    for (let i = 0; i < parts.length - 1; i++) {
      const piece = emit(carry + parts[i]);
      carry = '';
      if (piece) yield piece;
    }
    if (!overLong) {
      carry += parts[parts.length - 1]!;
      if (carry.length > MAX_RAW_PIECE) {
        overLong = true;
        carry = carry.trimStart().slice(0, 64);
      }
    }
  }
  for await (const chunk of source) {
    let text: string;
    if (typeof chunk === 'string') {
      text = first && chunk.charCodeAt(0) === 0xfeff ? chunk.slice(1) : chunk;
      first = false;
    } else {
      let bytes = chunk;
      if (!decoder) {
        // the byte-order mark needs the first two bytes, which a first chunk of one byte does not hold
        head = Buffer.concat([head, bytes]);
        if (head.length < 2) continue;
        encoding = head[0] === 0xff && head[1] === 0xfe ? 'utf-16le' : head[0] === 0xfe && head[1] === 0xff ? 'utf-16be' : 'utf-8';
        decoder = new TextDecoder(encoding, { fatal: true }); // drops the BOM itself
        bytes = head;
      }
      text = decode(bytes, true);
      offset += bytes.length;
    }
    yield* take(text);
  }
  if (!decoder && head.length) {
    decoder = new TextDecoder('utf-8', { fatal: true });
    yield* take(decode(head, true));
  }
  // a multi-byte sequence cut off at the very end is refused like any other
  if (decoder) yield* take(decode(Buffer.alloc(0), false));
  const piece = emit(carry);
  if (piece) yield piece;
}

/** Shown in FailUserIds: over-long ids by their beginning only. */
export function shownId(p: Piece): string {
  return p.overLong || p.value.length > 64 ? p.value.slice(0, 64) + '...' : p.value;
}
