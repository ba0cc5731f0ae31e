import type { GrayRule, ReleaseSpec, RuleElement, RuleOperation } from '../publish-offline-package.js';
import type { OptionSpec } from './args.js';
import type { CommandContext } from './command.js';
import { UsageError } from './usage-error.js';

const ELEMENTS: Record<string, RuleElement> = {
  city: 'city',
  model: 'mobileModel',
  mobilemodel: 'mobileModel',
  net: 'netType',
  nettype: 'netType',
  network: 'netType',
  os: 'osVersion',
  osversion: 'osVersion',
  client: 'clientVersion',
  clientversion: 'clientVersion',
};
const OPERATIONS: Record<string, RuleOperation> = { include: 'include', exclude: 'exclude', within: 'within', in: 'within', outside: 'outside', out: 'outside' };

/** `--rule city:include:Shanghai,Beijing`, `--rule os:within:9.0-12.1` */
export function parseRule(text: string, command: string[]): GrayRule {
  const m = /^([^:]+):([^:]+):(.+)$/.exec(text);
  const element = m && ELEMENTS[m[1]!.trim().toLowerCase()];
  const operation = m && OPERATIONS[m[2]!.trim().toLowerCase()];
  if (!m || !element || !operation) {
    throw new UsageError(`--rule "${text}" must be <city|model|net|os|client>:<include|exclude|within|outside>:<values>, e.g. city:include:Shanghai,Beijing`, command);
  }
  return { ruleElement: element, operation, value: m[3]!.trim() };
}

/** `2025-06-01T12:00:00Z` (an instant), `2025-06-01 12:00:00` (the server's wire zone), or relative `+36h`, `+2d`, `+90m`. */
export function parseEndTime(text: string, now: number, command: string[]): Date | string {
  const rel = /^\+(\d+)([mhd])$/.exec(text.trim());
  if (rel) return new Date(now + Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd']);
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(text.trim())) return text.trim();
  // other spellings without a zone ("2026-01-31T12:00", "2026-01-31 12:00") are read in the server's wire zone too,
  // not in this machine's (Date.parse would): a CI runner's TZ must not move the end of a release
  const local = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?$/.exec(text.trim());
  if (local) return `${local[1]} ${local[2]}${local[3] ?? ':00'}`;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`end time "${text}" is not a date (2025-06-01T12:00:00Z, "2025-06-01 12:00:00" in the server's wire zone, or +36h / +2d)`, command);
  return new Date(t);
}

export interface ReleaseFlags {
  official?: boolean;
  whitelist?: string;
  window?: string;
  percent?: string;
}

/** Refuses anything but exactly one of the release-kind flags (name -> given): an official release is never the silent default. */
export function oneReleaseKind(flags: Record<string, unknown>, choices: string, command: string[]): void {
  const given = Object.entries(flags)
    .filter(([, v]) => v !== undefined && v !== false && v !== '')
    .map(([name]) => name);
  if (given.length === 1) return;
  throw new UsageError(given.length ? `choose one release kind, not ${given.join(' and ')}` : `choose the release kind: ${choices}`, command);
}

/** Exactly one release kind: an official release is never the silent default. */
export function parseRelease(f: ReleaseFlags, now: number, command: string[]): ReleaseSpec {
  oneReleaseKind(
    { '--official': f.official, '--gray-whitelist': f.whitelist, '--gray-window': f.window, '--gray-percent': f.percent },
    '--official, --gray-whitelist <ids>, --gray-window <end>,<users> or --gray-percent <n>',
    command,
  );
  if (f.official) return { type: 'official' };
  if (f.whitelist) {
    const ids = f.whitelist.split(',').map((s) => s.trim()).filter(Boolean);
    if (!ids.length || ids.some((id) => !/^\d+$/.test(id))) throw new UsageError(`--gray-whitelist "${f.whitelist}" must be whitelist ids separated by commas`, command);
    return { type: 'whitelist', whitelistIds: ids };
  }
  if (f.window) {
    const cut = f.window.lastIndexOf(',');
    const users = cut > 0 ? f.window.slice(cut + 1).trim() : '';
    if (!/^\d+$/.test(users) || Number(users) < 1) throw new UsageError(`--gray-window "${f.window}" must be <end>,<users>, e.g. +2d,1000`, command);
    return { type: 'window', endTime: parseEndTime(f.window.slice(0, cut), now, command), users: Number(users) };
  }
  const percent = Number(f.percent);
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) throw new UsageError(`--gray-percent "${f.percent}" must be a whole number from 1 to 100`, command);
  return { type: 'percent', percent };
}

/** The value of option `name` looked up (case-insensitive) in `map`; a usage error naming the choices when it is not there. */
export function pick<T>(name: string, v: string | undefined, map: Record<string, T>, command: string[]): T | undefined {
  if (v === undefined) return undefined;
  const hit = map[v.toLowerCase()];
  if (hit === undefined) throw new UsageError(`--${name} "${v}" must be one of ${Object.keys(map).join(', ')}`, command);
  return hit;
}

/** --platform of offline packages and mini programs, as the wire spells it */
export const PLATFORMS = { all: 'all', android: 'Android', ios: 'iOS' } as const;

/** `1.0.0` becomes "1.0.0;1.0.0" for all platforms, ";1.0.0" for Android, "1.0.0;" for iOS; "a;b" is kept. */
export function clientVersion(v: string | undefined, platform: string): string | undefined {
  if (v === undefined || v === '' || v.includes(';')) return v;
  const p = platform.toLowerCase();
  return p === 'android' ? `;${v}` : p === 'ios' ? `${v};` : `${v};${v}`;
}

/** The release kind and its gray rules as options; mini programs have no percentage release (`percent` false). */
export function releaseOptions(percent = true): OptionSpec[] {
  return [
    { name: 'official', help: 'release to everybody' },
    { name: 'gray-whitelist', value: '<ids>', help: 'gray release to whitelists, ids separated by commas' },
    { name: 'gray-window', value: '<end>,<users>', help: 'gray release to the first <users> until <end> (ISO date, "yyyy-MM-dd HH:mm:ss" in the server\'s wire zone, +36h, +2d)' },
    ...(percent ? [{ name: 'gray-percent', value: '<1-100>', help: 'gray release to a stable share of users (mcube extension)' }] : []),
    { name: 'rule', value: '<element>:<op>:<values>', multi: true, help: 'advanced gray rule: city|model|net|os|client : include|exclude|within|outside : values' },
    { name: 'memo', value: '<text>', help: 'release note' },
  ];
}

/** The release kind and rules given to a command with releaseOptions(). */
export function releaseOf(ctx: CommandContext, command: string[]): { release: ReleaseSpec; rules: GrayRule[] } {
  const release = parseRelease(
    { official: ctx.values.official === true, whitelist: ctx.str('gray-whitelist'), window: ctx.str('gray-window'), percent: ctx.str('gray-percent') },
    Date.now(),
    command,
  );
  const rules = ((ctx.values.rule as string[] | undefined) ?? []).map((r) => parseRule(r, command));
  if (rules.length && release.type === 'official') throw new UsageError('--rule applies to gray releases only', command);
  return { release, rules };
}
