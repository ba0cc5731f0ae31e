import { compareVersions, parseVersion, type Version } from './versions.js';

/** The device facts advanced rules look at. */
export interface DeviceFacts {
  city: string;
  mobileModel: string;
  netType: string;
  osVersion: Version;
  /** whether the device sent an OS version at all */
  hasOsVersion: boolean;
  /** the installed app's version (the request's `client`) */
  clientVersion: Version;
  hasClientVersion: boolean;
}

export type RuleElement = 'city' | 'mobileModel' | 'netType' | 'osVersion' | 'clientVersion';
type VersionElement = 'osVersion' | 'clientVersion';

/**
 * One compiled advanced rule. String elements compare case-insensitively
 * (lower-cased once here and once per request); osVersion and clientVersion
 * compare as versions.
 */
export type CompiledRule =
  | { kind: 'in-set'; element: Exclude<RuleElement, VersionElement>; values: ReadonlySet<string>; negate: boolean }
  | { kind: 'version-in'; element: VersionElement; values: readonly Version[]; negate: boolean }
  | { kind: 'version-range'; element: VersionElement; ranges: ReadonlyArray<{ min: Version | null; max: Version | null }>; negate: boolean }
  | { kind: 'never'; why: string };

const ELEMENTS = new Set<string>(['city', 'mobileModel', 'netType', 'osVersion', 'clientVersion']);

/** Android's NetworkUtils.getNetworkType() codes (guide §8) */
const NET_CODES: Record<string, string> = { '1': '2g', '2': '3g', '3': 'wifi', '4': '4g' };

/**
 * A network type as rules and devices compare it. The guide's values (2G, 3G, 4G, 5G, Wi-Fi, WLAN; iOS upgrade checks
 * report Wi-Fi or WWAN) reach the server spelled many ways ("WIFI", "wifi", "Wi-Fi") or as Android's numeric codes:
 * lower case without punctuation, codes mapped, WLAN as Wi-Fi.
 */
export function netTypeKey(v: string): string {
  const k = v.toLowerCase().replace(/[^a-z0-9]/g, '');
  return NET_CODES[k] ?? (k === 'wlan' ? 'wifi' : k);
}

/** The network types a rule may name, as netTypeKey spells them. */
export const NET_TYPES: ReadonlySet<string> = new Set(['2g', '3g', '4g', '5g', 'wifi', 'wwan']);

/** Comma-separated values, each trimmed; empty pieces dropped. */
function splitValues(value: unknown): string[] {
  return String(value ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

/**
 * Compiles `grey_config_info` (the API's JSON array string; '' when none).
 * Anything the engine cannot read compiles to a rule that never matches, so a
 * gray task with a broken rule delivers to nobody rather than to everybody.
 */
export function compileRules(greyConfigInfo: string | null | undefined): CompiledRule[] {
  const text = (greyConfigInfo ?? '').trim();
  if (text === '' || text === '[]') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [{ kind: 'never', why: 'grey_config_info is not JSON' }];
  }
  if (!Array.isArray(parsed)) return [{ kind: 'never', why: 'grey_config_info is not a JSON array' }];
  return parsed.map(compileRule);
}

function compileRule(raw: unknown): CompiledRule {
  if (!raw || typeof raw !== 'object') return { kind: 'never', why: 'a rule is not an object' };
  const r = raw as { ruleElement?: unknown; operation?: unknown; value?: unknown; value1?: unknown; value2?: unknown };
  const element = String(r.ruleElement ?? '').trim();
  const op = Number(String(r.operation ?? '').trim());
  if (!ELEMENTS.has(element)) return { kind: 'never', why: `unknown ruleElement ${JSON.stringify(element)}` };
  const values = splitValues(r.value);
  if (element === 'osVersion' || element === 'clientVersion') {
    if (op === 1 || op === 2) return { kind: 'version-in', element, values: values.map(parseVersion), negate: op === 2 };
    if (op === 3 || op === 4) {
      // "aa-bb", or the bounds in value1/value2 (accepted on write as well)
      if (values.length === 0 && (r.value1 !== undefined || r.value2 !== undefined)) values.push(`${String(r.value1 ?? '').trim()}-${String(r.value2 ?? '').trim()}`);
      const ranges = [];
      for (const v of values) {
        const range = parseRange(v);
        if (!range) return { kind: 'never', why: `bad version range ${JSON.stringify(v)}` };
        ranges.push(range);
      }
      return { kind: 'version-range', element, ranges, negate: op === 4 };
    }
    return { kind: 'never', why: `unknown operation ${String(r.operation)}` };
  }
  if (op === 1 || op === 2) {
    const key = element === 'netType' ? netTypeKey : (v: string) => v.toLowerCase();
    return { kind: 'in-set', element: element as Exclude<RuleElement, VersionElement>, values: new Set(values.map(key)), negate: op === 2 };
  }
  return { kind: 'never', why: `operation ${String(r.operation)} does not apply to ${element}` };
}

/** "aa-bb" inclusive; an empty side is open ("9.0-" = 9.0 and above). */
function parseRange(v: string): { min: Version | null; max: Version | null } | null {
  const dash = v.indexOf('-');
  if (dash < 0) {
    const one = parseVersion(v);
    return { min: one, max: one };
  }
  const lo = v.slice(0, dash).trim();
  const hi = v.slice(dash + 1).trim();
  if (lo === '' && hi === '') return null;
  return { min: lo === '' ? null : parseVersion(lo), max: hi === '' ? null : parseVersion(hi) };
}

/** A task's compiled rules, shared by every task with the same rule text, with a memo for the device of the current request. */
export interface RuleSet {
  rules: readonly CompiledRule[];
  lastFacts: DeviceFacts | null;
  lastResult: boolean;
}

export const NO_RULES: RuleSet = { rules: [], lastFacts: null, lastResult: true };

export function ruleSetOf(rules: CompiledRule[]): RuleSet {
  return rules.length ? { rules, lastFacts: null, lastResult: false } : NO_RULES;
}

/** matchRules, evaluated once per request (facts object) for all tasks sharing the rule set. */
export function matchRuleSet(rs: RuleSet, d: DeviceFacts): boolean {
  if (rs.rules.length === 0) return true;
  if (rs.lastFacts === d) return rs.lastResult;
  const r = matchRules(rs.rules, d);
  rs.lastFacts = d;
  rs.lastResult = r;
  return r;
}

/**
 * All rules ANDed. A device that does not report a fact matches no "include"
 * or range rule on it, and matches every "exclude" rule on it.
 */
export function matchRules(rules: readonly CompiledRule[], d: DeviceFacts): boolean {
  for (let i = 0; i < rules.length; i++) {
    if (!matchRule(rules[i]!, d)) return false;
  }
  return true;
}

/** The device's version for a version rule; null when it did not report it. */
function versionFact(d: DeviceFacts, element: VersionElement): Version | null {
  if (element === 'osVersion') return d.hasOsVersion ? d.osVersion : null;
  return d.hasClientVersion ? d.clientVersion : null;
}

function matchRule(rule: CompiledRule, d: DeviceFacts): boolean {
  switch (rule.kind) {
    case 'never':
      return false;
    case 'in-set': {
      const v = d[rule.element];
      const hit = v !== '' && rule.values.has(v);
      return rule.negate ? !hit : hit;
    }
    case 'version-in': {
      const have = versionFact(d, rule.element);
      if (have === null) return rule.negate;
      let hit = false;
      for (const v of rule.values) if (compareVersions(have, v) === 0) hit = true;
      return rule.negate ? !hit : hit;
    }
    case 'version-range': {
      const have = versionFact(d, rule.element);
      if (have === null) return false;
      let hit = false;
      for (const r of rule.ranges) {
        if ((!r.min || compareVersions(have, r.min) >= 0) && (!r.max || compareVersions(have, r.max) <= 0)) hit = true;
      }
      return rule.negate ? !hit : hit;
    }
  }
}
