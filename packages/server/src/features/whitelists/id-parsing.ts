import { StringDecoder } from 'node:string_decoder';
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
 * Splits a byte stream (UTF-8, optional BOM) into trimmed, non-empty pieces
 * without ever holding more than one chunk and one bounded piece in memory.
 */
export async function* streamPieces(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, separators: RegExp): AsyncGenerator<Piece> {
  const decoder = new StringDecoder('utf8');
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
  for await (const chunk of source) {
    let text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (first && text.length) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
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
  const rest = decoder.end();
  if (rest) {
    // a truncated multi-byte sequence at the very end: keep it as the replacement character
    if (!overLong) carry += rest;
  }
  const piece = emit(carry);
  if (piece) yield piece;
}

/** Shown in FailUserIds: over-long ids by their beginning only. */
export function shownId(p: Piece): string {
  return p.overLong || p.value.length > 64 ? p.value.slice(0, 64) + '...' : p.value;
}
