/**
 * Versions (package, client, OS) compare numerically segment by segment;
 * missing trailing segments count as 0, so "4.0" equals "4.0.0" and
 * "10.0.1" is above "9.2.1" (DELIVERY-RULES.md). The version ends at the
 * first character that is neither a digit nor a dot: what follows is a suffix
 * ("4.0.1-rc.2" is 4.0.1, "3-beta" is 3, "rc1" is 0), read so by every device
 * endpoint (the upgrade check's CLIENT_VERSION says the same of "-beta").
 */
export type Version = readonly number[];

export function parseVersion(text: string | null | undefined): Version {
  if (!text) return [];
  const out: number[] = [];
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      out.push(n);
      n = 0;
    } else if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
      if (n > Number.MAX_SAFE_INTEGER) n = Number.MAX_SAFE_INTEGER;
    } else {
      break;
    }
  }
  out.push(n);
  // trailing zero segments carry no meaning; dropping them makes equality a plain comparison
  let len = out.length;
  while (len > 0 && out[len - 1] === 0) len--;
  out.length = len;
  return out;
}

/** negative, zero or positive as a is below, equal to or above b */
export function compareVersions(a: Version, b: Version): number {
  const len = a.length > b.length ? a.length : b.length;
  for (let i = 0; i < len; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** min <= v <= max; a null bound is open */
export function inVersionRange(v: Version, min: Version | null, max: Version | null): boolean {
  if (min && compareVersions(v, min) < 0) return false;
  if (max && compareVersions(v, max) > 0) return false;
  return true;
}
