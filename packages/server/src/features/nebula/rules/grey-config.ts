import { NET_TYPES, netTypeKey } from '../../delivery/engine/rules.js';
import { invalid, shown } from './field-error.js';
import { compareVersions, isDottedVersion } from './version.js';

export type RuleElement = 'city' | 'mobileModel' | 'netType' | 'osVersion' | 'clientVersion';
/** 1 include, 2 exclude, 3 within range, 4 out of range (ranges for osVersion only) */
export type RuleOperation = 1 | 2 | 3 | 4;

export type GreyRule =
  | { ruleElement: RuleElement; operation: 1 | 2; values: string[] }
  | { ruleElement: 'osVersion' | 'clientVersion'; operation: 3 | 4; lower: string; upper: string };

export const GREY_LIMITS = { maxRules: 20, maxValues: 100, maxValueLength: 100 };

// clientVersion (the installed app's version) is mcube's: the guide has upgrades filtered by "release package version"
// and its example targets "version 4.0 app"s, which no vendor rule element expresses
const ELEMENTS: ReadonlySet<string> = new Set(['city', 'mobileModel', 'netType', 'osVersion', 'clientVersion']);
const OPERATOR_NAMES = { 1: 'contains', 2: 'excludes', 3: 'vLimitIn', 4: 'vLimitOut' } as const;
const F = 'GreyConfigInfo';

function str(v: unknown): string {
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

/** "aa-bb", both ends included; an empty maximum ("9.0-") means no upper bound (DELIVERY-RULES.md). */
function parseRange(at: string, rule: Record<string, unknown>): { lower: string; upper: string } {
  let lower = '';
  let upper = '';
  const value = str(rule.value);
  if (value !== '') {
    const m = /^\s*([^-\s]+)\s*-\s*([^-\s]*)\s*$/.exec(value);
    if (!m) throw invalid(F, `${at} value ${shown(value)} must have the form aa-bb (e.g. 9.0-12.1, or 9.0- for no upper bound).`);
    [lower, upper] = [m[1]!, m[2]!];
  } else {
    [lower, upper] = [str(rule.value1), str(rule.value2)];
    if (lower === '') throw invalid(F, `${at} needs value "aa-bb" (or value1 and value2) for a range.`);
  }
  for (const v of upper === '' ? [lower] : [lower, upper]) if (!isDottedVersion(v)) throw invalid(F, `${at} bound ${shown(v)} is not a dotted numeric version.`);
  if (upper !== '' && compareVersions(lower, upper) > 0) throw invalid(F, `${at} range ${lower}-${upper}: the lower bound is above the upper bound.`);
  return { lower, upper };
}

function parseList(at: string, rule: Record<string, unknown>): string[] {
  const value = str(rule.value);
  const values = value.split(',').map((s) => s.trim());
  if (value === '' || values.some((s) => s === '')) throw invalid(F, `${at} value ${shown(value)} must be a comma-separated list of non-empty values.`);
  if (values.length > GREY_LIMITS.maxValues) throw invalid(F, `${at} has ${values.length} values; at most ${GREY_LIMITS.maxValues} are allowed.`);
  const long = values.find((s) => s.length > GREY_LIMITS.maxValueLength);
  if (long) throw invalid(F, `${at} value ${shown(long)} is longer than ${GREY_LIMITS.maxValueLength} characters.`);
  return values;
}

/**
 * Advanced rules of a gray task: a JSON array of
 * {ruleElement: city|mobileModel|netType|osVersion, operation: 1..4, value}
 * (value1/value2 accepted for ranges). '' (or an empty array) means none.
 */
/**
 * `strict`: what a new task or switch value gives, held to every rule; without it (reading stored tasks back) the
 * network types are not checked, since rows written before that check must stay readable.
 */
export function parseGreyConfig(raw: string | undefined, opts: { strict?: boolean } = {}): GreyRule[] {
  const text = (raw ?? '').trim();
  if (text === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(F, 'is not valid JSON; give an array such as [{"ruleElement":"city","operation":1,"value":"Shanghai,Beijing"}].');
  }
  if (!Array.isArray(parsed)) throw invalid(F, 'must be a JSON array of rules.');
  if (parsed.length > GREY_LIMITS.maxRules) throw invalid(F, `has ${parsed.length} rules; at most ${GREY_LIMITS.maxRules} are allowed.`);
  return parsed.map((r, i): GreyRule => {
    const at = `rule ${i + 1}`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw invalid(F, `${at} is not an object.`);
    const rule = r as Record<string, unknown>;
    const el = str(rule.ruleElement);
    if (!ELEMENTS.has(el)) throw invalid(F, `${at} ruleElement ${shown(el)} is not one of city, mobileModel, netType, osVersion, clientVersion.`);
    const op = Number(str(rule.operation));
    if (![1, 2, 3, 4].includes(op)) throw invalid(F, `${at} operation ${shown(rule.operation ?? '')} is not 1 (include), 2 (exclude), 3 (within range) or 4 (out of range).`);
    if (op === 3 || op === 4) {
      if (el !== 'osVersion' && el !== 'clientVersion') throw invalid(F, `${at}: ranges (operation 3 and 4) apply to osVersion and clientVersion only; ${el} takes 1 or 2.`);
      return { ruleElement: el, operation: op, ...parseRange(at, rule) };
    }
    const values = parseList(at, rule);
    // a typo would make a rule that never matches, silently
    const unknownNet = el === 'netType' && opts.strict ? values.find((v) => !NET_TYPES.has(netTypeKey(v))) : undefined;
    if (unknownNet !== undefined) throw invalid(F, `${at} netType value ${shown(unknownNet)} is not one of 2G, 3G, 4G, 5G, Wi-Fi, WLAN, WWAN (or Android's codes 1 to 4).`);
    return { ruleElement: el as RuleElement, operation: op as 1 | 2, values };
  });
}

/** The vendor's evaluated rule form ("greyConfigInfo explanation" in the guide, §5.6.2). */
export interface RuleTree {
  operator: 'and';
  defaultResult: boolean;
  subRules: Array<{ operator: string; left: string[] | { lower: string; upper: string }; right: string; defaultResult: boolean }>;
}

export function toRuleTree(rules: GreyRule[]): RuleTree {
  return {
    operator: 'and',
    defaultResult: false,
    subRules: rules.map((r) => ({
      operator: OPERATOR_NAMES[r.operation],
      left: 'values' in r ? r.values : { lower: r.lower, upper: r.upper },
      right: r.ruleElement,
      defaultResult: false,
    })),
  };
}

/** RuleJsonList items of GetMcubeNebulaTaskDetail. */
export function toRuleJsonList(rules: GreyRule[]): Array<{ RuleElement: string; Operation: string; RuleType: string; Value: string }> {
  return rules.map((r) => ({
    RuleElement: r.ruleElement,
    Operation: String(r.operation),
    RuleType: OPERATOR_NAMES[r.operation],
    Value: 'values' in r ? r.values.join(',') : `${r.lower}-${r.upper}`,
  }));
}
