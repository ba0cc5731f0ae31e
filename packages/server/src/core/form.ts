import { PopError } from './errors.js';

/**
 * Decodes one application/x-www-form-urlencoded component; null for bad
 * percent-encoding or invalid UTF-8 (decodeURIComponent refuses both rather
 * than replacing them).
 */
export function decodeFormComponent(s: string): string | null {
  const t = s.indexOf('+') >= 0 ? s.replace(/\+/g, ' ') : s;
  if (t.indexOf('%') < 0) return t;
  try {
    return decodeURIComponent(t);
  } catch {
    return null;
  }
}

/**
 * Strict form / query-string parser for the RPC entry: refuses bad
 * percent-encoding and invalid UTF-8, and keeps duplicates so the caller can
 * refuse them.
 */
export function parseForm(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (!text) return out;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    out.push([decode(eq < 0 ? part : part.slice(0, eq)), decode(eq < 0 ? '' : part.slice(eq + 1))]);
  }
  return out;
}

function decode(s: string): string {
  const v = decodeFormComponent(s);
  if (v === null) throw new PopError(400, 'InvalidParameter', 'The request has malformed percent-encoding or a parameter that is not valid UTF-8.');
  return v;
}
