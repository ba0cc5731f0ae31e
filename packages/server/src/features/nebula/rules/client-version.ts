import { invalid, shown } from './field-error.js';
import { compareVersions, isDottedVersion } from './version.js';

export type Platform = 'all' | 'Android' | 'iOS';

const PLATFORMS: Record<string, Platform> = { all: 'all', android: 'Android', ios: 'iOS' };

/** all / Android / iOS, accepted in any letter case, returned in canonical spelling. */
export function checkPlatform(raw: string | undefined): Platform {
  const p = PLATFORMS[(raw ?? '').trim().toLowerCase()];
  if (!p) throw invalid('Platform', `${shown(raw ?? '')} is not allowed; use all, Android or iOS.`);
  return p;
}

interface Sides {
  ios: string;
  android: string;
}

function split(field: string, v: string): Sides {
  const parts = v.split(';');
  if (parts.length !== 2) {
    throw invalid(field, `${shown(v)} must have the form "ios;android" with exactly one semicolon (";bbb" for Android only, "aaa;" for iOS only).`);
  }
  const [ios, android] = parts.map((s) => s.trim()) as [string, string];
  for (const [side, val] of [['iOS', ios], ['Android', android]] as const) {
    if (val !== '' && !isDottedVersion(val)) throw invalid(field, `the ${side} version ${shown(val)} is not a dotted numeric version such as 1.0.0.`);
  }
  return { ios, android };
}

/**
 * ClientVersionMin/Max in the guide's "ios;android" form. The minimum is
 * required for every platform the package targets and empty for the other;
 * the maximum may be empty (no upper bound), and for `all` it names both
 * sides or neither. Each given maximum is at least its minimum.
 */
export function checkClientVersions(platform: Platform, minRaw: string | undefined, maxRaw: string | undefined): { min: string; max: string } {
  const min = (minRaw ?? '').trim();
  const max = (maxRaw ?? '').trim();
  if (min === '') throw invalid('ClientVersionMin', 'is required, in the form "ios;android" (";bbb" for Android, "aaa;" for iOS).');
  const lo = split('ClientVersionMin', min);
  const wantIos = platform !== 'Android';
  const wantAndroid = platform !== 'iOS';
  const form = platform === 'all' ? '"aaa;bbb"' : platform === 'iOS' ? '"aaa;"' : '";bbb"';
  if ((lo.ios !== '') !== wantIos || (lo.android !== '') !== wantAndroid) {
    throw invalid('ClientVersionMin', `${shown(min)} does not fit Platform ${platform}; use the form ${form}.`);
  }
  if (max === '' || max === ';') return { min, max };
  const hi = split('ClientVersionMax', max);
  if ((!wantIos && hi.ios !== '') || (!wantAndroid && hi.android !== '')) {
    throw invalid('ClientVersionMax', `${shown(max)} does not fit Platform ${platform}; use the form ${form} or leave it empty.`);
  }
  if (platform === 'all' && (hi.ios === '') !== (hi.android === '')) {
    throw invalid('ClientVersionMax', `${shown(max)}: for Platform all give both the iOS and the Android maximum, or neither.`);
  }
  if (hi.ios !== '' && compareVersions(lo.ios, hi.ios) > 0) throw invalid('ClientVersionMax', `the iOS maximum ${hi.ios} is below the minimum ${lo.ios}.`);
  if (hi.android !== '' && compareVersions(lo.android, hi.android) > 0) {
    throw invalid('ClientVersionMax', `the Android maximum ${hi.android} is below the minimum ${lo.android}.`);
  }
  return { min, max };
}
