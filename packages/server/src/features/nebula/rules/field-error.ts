import { BusinessError } from '../../../core/errors.js';

/** A refused request field: code `Invalid<Field>`, message naming the field and the rule it breaks. */
export function invalid(field: string, why: string): BusinessError {
  return new BusinessError(`Invalid${field}`, `${field}: ${why}`);
}

/** The value as shown inside an error message (quoted, cut short). */
export function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return JSON.stringify(s.length > 80 ? s.slice(0, 77) + '...' : s);
}

/**
 * A row id given as text; null when empty and not required. `required` may say what the id is
 * ("is required: <required>"), `noun` what a bad value is not ("an id").
 */
export function parseId(field: string, raw: string | undefined, required: boolean | string, noun = 'an id'): number | null {
  const v = (raw ?? '').trim();
  if (v === '') {
    if (required) throw invalid(field, typeof required === 'string' ? `is required: ${required}.` : 'is required.');
    return null;
  }
  if (!/^\d{1,15}$/.test(v) || Number(v) === 0) throw invalid(field, `${shown(raw)} is not ${noun}.`);
  return Number(v);
}

export function isBlank(v: string | undefined | null): boolean {
  return v === undefined || v === null || v.trim() === '';
}

/** An optional 0/1 flag; `def` when absent, refused otherwise. */
export function flag(field: string, v: number | undefined, def: 0 | 1 | null): 0 | 1 {
  if (v === undefined || v === null) {
    if (def === null) throw invalid(field, 'is required (0 or 1).');
    return def;
  }
  if (v !== 0 && v !== 1) throw invalid(field, `${v} is not allowed; use 0 or 1.`);
  return v;
}
