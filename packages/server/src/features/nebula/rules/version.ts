/** Dotted numeric versions (1.0.0.1): up to 8 segments of up to 9 digits. */
const DOTTED = /^\d{1,9}(\.\d{1,9}){0,7}$/;

export function isDottedVersion(v: string): boolean {
  return DOTTED.test(v);
}

/** For a version refused though made of digits and dots: which limit it passes (", whose segments have at most 9 digits"), else "". */
export function versionLimitsHint(v: string): string {
  if (!/^\d+(\.\d+)*$/.test(v)) return '';
  const segs = v.split('.');
  if (segs.some((s) => s.length > 9)) return ' (each segment has at most 9 digits)';
  if (segs.length > 8) return ' (at most 8 segments)';
  return '';
}

/**
 * Compares two dotted numeric versions segment by segment as numbers;
 * missing trailing segments count as 0 (4.0 = 4.0.0), never as strings.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  const n = Math.max(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}
