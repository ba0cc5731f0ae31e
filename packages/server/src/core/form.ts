import { PopError } from './errors.js';

/**
 * Strict application/x-www-form-urlencoded / query-string parser: rejects bad
 * percent-encoding and invalid UTF-8 instead of silently replacing them, and
 * keeps duplicates so the caller can refuse them.
 */
export function parseForm(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!text) return out;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.push([decode(k), decode(v)]);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decode(s: string): string {
  const plus = s.replace(/\+/g, ' ');
  if (!plus.includes('%')) return plus;
  if (/%(?![0-9a-fA-F]{2})/.test(plus)) throw new PopError(400, 'InvalidParameter', 'The request has malformed percent-encoding.');
  const bytes: number[] = [];
  for (let i = 0; i < plus.length; i++) {
    const c = plus.charCodeAt(i);
    if (c === 0x25) {
      bytes.push(parseInt(plus.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) bytes.push(c);
    else {
      const cp = plus.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    throw new PopError(400, 'InvalidParameter', 'The request has a parameter that is not valid UTF-8.');
  }
}
