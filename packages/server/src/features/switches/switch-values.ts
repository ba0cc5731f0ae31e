import { BusinessError } from '../../core/errors.js';
import { invalid, shown } from '../nebula/rules/field-error.js';
import { parseGreyConfig } from '../nebula/rules/grey-config.js';
import { parseWhitelistIds } from '../nebula/rules/task-fields.js';

export type SwitchPlatform = 'ALL' | 'ANDROID' | 'IOS';
/** ALL: every device of the platform; WHITELIST: users on one of the lists; PERCENT: a stable share of users */
export type SwitchDelivery = 'ALL' | 'WHITELIST' | 'PERCENT';

/** One value of a switch key, as stored. */
export interface SwitchValue {
  value: string;
  platform: SwitchPlatform;
  delivery: SwitchDelivery;
  whitelistIds: number[];
  /** percent * 100 (1 to 10,000), PERCENT only */
  percentBuckets: number;
  /** advanced rules as JSON text in the GreyConfigInfo format, '' when none */
  rules: string;
}

export interface SwitchSpec {
  key: string;
  note: string;
  enabled: boolean;
  values: SwitchValue[];
}

export const SWITCH_LIMITS = { maxKeyLength: 128, maxNoteLength: 512, maxValues: 20, maxValueLength: 4096, maxKeysPerWorkspace: 1000, maxImport: 1000 };

// letters, digits and _ . - : (Load_Config_Interval, home.banner, feature:new-pay)
const KEY = /^[A-Za-z0-9_.:-]+$/;
const PLATFORMS: readonly SwitchPlatform[] = ['ALL', 'ANDROID', 'IOS'];
const DELIVERIES: readonly SwitchDelivery[] = ['ALL', 'WHITELIST', 'PERCENT'];
const VALUE_FIELDS = new Set(['Value', 'Platform', 'Type', 'WhitelistIds', 'Percent', 'Rules']);
const ITEM_FIELDS = new Set(['ConfigKey', 'Note', 'Enabled', 'Values']);

// PostgreSQL text cannot hold NUL, and a lone surrogate cannot be stored as UTF-8: refused rather than changed
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const storable = (field: string, at: string, text: string) => {
  if (UNSTORABLE.test(text)) throw invalid(field, `${at}holds a NUL character or a lone UTF-16 surrogate, which cannot be stored.`);
  return text;
};

export function parseConfigKey(raw: unknown, field = 'ConfigKey'): string {
  const key = typeof raw === 'string' ? raw.trim() : '';
  if (key === '') throw invalid(field, 'is required: the switch key devices read, e.g. Load_Config_Interval.');
  if (key.length > SWITCH_LIMITS.maxKeyLength) throw invalid(field, `is longer than ${SWITCH_LIMITS.maxKeyLength} characters.`);
  if (!KEY.test(key)) throw invalid(field, `${shown(key)} may hold only letters, digits and _ . - :`);
  return key;
}

/** Characters as the request schema and PostgreSQL count them (code points): an emoji is one, not two UTF-16 units. */
const chars = (s: string) => {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
};

/**
 * Number values in the Values text that JSON.parse would write otherwise than they were written ("1.10" comes out
 * 1.1, "1e3" 1000, "-0" 0): devices receive text, so they are refused rather than changed. In valid JSON an unescaped
 * `"Value"` after `{` or `,` can only be a member name, never part of a string.
 */
export function refuseRewrittenNumbers(text: string, field: string): void {
  for (const m of text.matchAll(/[{,]\s*"Value"\s*:\s*(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/g)) {
    const written = m[1]!;
    if (String(Number(written)) !== written) {
      throw invalid(field, `a Value ${written} would reach devices as ${String(Number(written))}; give it as text ("Value":"${written}") to keep it as written.`);
    }
  }
}

export function parseNote(raw: unknown, field = 'Note'): string {
  if (raw === undefined || raw === null) return '';
  if (typeof raw !== 'string') throw invalid(field, 'must be text.');
  const note = raw.trim();
  if (chars(note) > SWITCH_LIMITS.maxNoteLength) throw invalid(field, `is longer than ${SWITCH_LIMITS.maxNoteLength} characters.`);
  return storable(field, '', note);
}

function choice<T extends string>(at: string, name: string, raw: unknown, all: readonly T[]): T {
  if (raw === undefined || raw === null || raw === '') return all[0]!;
  const v = typeof raw === 'string' ? raw.trim().toUpperCase() : '';
  if (!(all as readonly string[]).includes(v)) throw invalid('Values', `${at} ${name} ${shown(raw)} is not one of ${all.join(', ')}.`);
  return v as T;
}

function percentOf(at: string, raw: unknown): number {
  // as text only plain decimals ("12.5"): Number() would also read "0x10" and "1e1"
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d{1,3}(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  // two decimals at most: the share is counted in 10,000 buckets
  if (!Number.isFinite(n) || n <= 0 || n > 100 || Math.abs(Math.round(n * 100) - n * 100) > 1e-6) {
    throw invalid('Values', `${at} Percent ${shown(raw ?? '')} must be a number above 0 and at most 100, with at most two decimals.`);
  }
  return Math.round(n * 100);
}

/** Runs a parser of another field and reports its refusal under `field`, after `prefix` (less `drop`, the other field's name). */
function within<T>(field: string, prefix: string, parse: () => T, drop = ''): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof BusinessError) throw invalid(field, `${prefix}${drop && err.message.startsWith(drop) ? err.message.slice(drop.length) : err.message}`);
    throw err;
  }
}

function rulesOf(at: string, raw: unknown): string {
  if (raw === undefined || raw === null || raw === '') return '';
  const text = typeof raw === 'string' ? raw.trim() : Array.isArray(raw) ? JSON.stringify(raw) : null;
  if (text === null) throw invalid('Values', `${at} Rules must be an array of rules (the GreyConfigInfo format) or its JSON text.`);
  // the rules' own messages start with their field name, GreyConfigInfo; here they are the value's Rules
  return within('Values', `${at} Rules: `, () => parseGreyConfig(text, { strict: true }), 'GreyConfigInfo: ').length ? text : '';
}

function valueOf(raw: unknown, i: number): SwitchValue {
  const at = `value ${i + 1}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('Values', `${at} is not an object such as {"Value":"on","Platform":"ALL","Type":"ALL"}.`);
  const o = raw as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !VALUE_FIELDS.has(k));
  if (unknown !== undefined) throw invalid('Values', `${at} has the unknown field ${shown(unknown)}; the fields are ${[...VALUE_FIELDS].join(', ')}.`);
  const v = o.Value;
  // what a device receives is text (the clients' stringValueForKey); numbers and booleans are taken as written
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw invalid('Values', `${at} Value must be text (give JSON as a string).`);
  // JSON.parse has already rounded the number: 12345678901234567890 would reach devices as 12345678901234567000, 1e400 as Infinity
  if (typeof v === 'number' && (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v)))) {
    throw invalid('Values', `${at} Value is a number JavaScript cannot hold exactly; give it as text ("Value":"12345678901234567890").`);
  }
  const value = storable('Values', `${at} Value `, String(v));
  if (chars(value) > SWITCH_LIMITS.maxValueLength) throw invalid('Values', `${at} Value is longer than ${SWITCH_LIMITS.maxValueLength} characters.`);
  const platform = choice(at, 'Platform', o.Platform, PLATFORMS);
  const delivery = choice(at, 'Type', o.Type, DELIVERIES);
  const listsGiven = o.WhitelistIds !== undefined && o.WhitelistIds !== null && o.WhitelistIds !== '';
  // 0 is what the list and the export show for other types: taken as absent, so an export imports as it is
  const percentGiven = o.Percent !== undefined && o.Percent !== null && o.Percent !== '' && o.Percent !== 0 && o.Percent !== '0';
  let whitelistIds: number[] = [];
  if (delivery === 'WHITELIST') {
    const text = Array.isArray(o.WhitelistIds) ? o.WhitelistIds.join(',') : typeof o.WhitelistIds === 'string' || typeof o.WhitelistIds === 'number' ? String(o.WhitelistIds) : '';
    whitelistIds = within('Values', `${at} `, () => parseWhitelistIds(text));
    if (!whitelistIds.length) throw invalid('Values', `${at} has Type WHITELIST and needs WhitelistIds (comma-separated whitelist ids).`);
  } else if (listsGiven) throw invalid('Values', `${at} WhitelistIds applies to Type WHITELIST only.`);
  if (delivery !== 'PERCENT' && percentGiven) throw invalid('Values', `${at} Percent applies to Type PERCENT only.`);
  const percentBuckets = delivery === 'PERCENT' ? percentOf(at, o.Percent) : 0;
  return { value, platform, delivery, whitelistIds, percentBuckets, rules: rulesOf(at, o.Rules) };
}

/** `Values`: a JSON array (or its text) of {Value, Platform, Type, WhitelistIds, Percent, Rules}, tried in order. */
export function parseValues(raw: unknown): SwitchValue[] {
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      throw invalid('Values', 'is not valid JSON; give an array such as [{"Value":"on","Platform":"ALL","Type":"ALL"}].');
    }
    refuseRewrittenNumbers(raw, 'Values');
  }
  if (!Array.isArray(list) || list.length === 0) throw invalid('Values', 'must be a non-empty JSON array of values.');
  if (list.length > SWITCH_LIMITS.maxValues) throw invalid('Values', `has ${list.length} values; at most ${SWITCH_LIMITS.maxValues} are allowed per key.`);
  return list.map(valueOf);
}

/** The wire form of a stored value (ListMcubeSwitchConfigs, the export file). */
export function valueToWire(v: SwitchValue): Record<string, unknown> {
  return {
    Value: v.value,
    Platform: v.platform,
    Type: v.delivery,
    WhitelistIds: v.whitelistIds.join(','),
    Percent: v.delivery === 'PERCENT' ? v.percentBuckets / 100 : 0,
    Rules: v.rules,
  };
}

/**
 * One item of an import file (the export's {ConfigKey, Note, Enabled, Values}): its shape and key now, the rest
 * when `spec()` is called. The import reads the rest only for the keys it adds: a key that exists is skipped without
 * being read, so a file exported by an older version (values it accepted and this one refuses) still imports into a
 * workspace that has its keys.
 */
export function parseImportItem(raw: unknown, i: number): { key: string; spec: () => SwitchSpec } {
  const at = `item ${i + 1}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid('Content', `${at} is not an object {ConfigKey, Note, Enabled, Values}.`);
  const o = raw as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !ITEM_FIELDS.has(k));
  if (extra !== undefined) throw invalid('Content', `${at} has the unknown field ${shown(extra)}; the fields are ${[...ITEM_FIELDS].join(', ')}.`);
  const key = within('Content', `${at}: `, () => parseConfigKey(o.ConfigKey));
  const spec = (): SwitchSpec => {
    const note = within('Content', `${at} (${key}): `, () => parseNote(o.Note));
    if (o.Enabled !== undefined && typeof o.Enabled !== 'boolean') throw invalid('Content', `${at} (${key}): Enabled must be true or false.`);
    const values = within('Content', `${at} (${key}): `, () => parseValues(o.Values));
    return { key, note, enabled: o.Enabled !== false, values };
  };
  return { key, spec };
}
