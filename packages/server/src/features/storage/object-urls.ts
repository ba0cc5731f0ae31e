import { assertSafeDir, decodeKeyPath, encodeKey } from './key-rules.js';

/** "scheme://host[:port][/path]" without a trailing "/", host lower-cased as the URL parser does. */
export function normaliseBase(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export function joinKey(base: string, key: string): string {
  return `${base}/${encodeKey(key)}`;
}

/**
 * The public address of a folder of objects (`<base>/<folder>/`): where a device finds
 * each object by appending its path, which only a download base can give (presigned
 * links are per object); '' without one, or without a folder.
 */
export function publicFolderUrl(downloadBaseUrl: string | null, folder: string | null): string {
  return downloadBaseUrl && folder ? joinKey(downloadBaseUrl, assertSafeDir(folder).slice(0, -1)) + '/' : '';
}

/**
 * The key of `raw` when it starts exactly with one of `prefixes` (each ending in "/"),
 * or null. Deliberately literal: no other spelling of the origin, no user info,
 * no fragment, no query unless `acceptQuery` approves it, and the decoded key must
 * pass the safe key rules (so "%2e%2e" is refused like "..").
 */
export function keyFromObjectUrl(raw: unknown, prefixes: string[], acceptQuery?: (q: URLSearchParams) => boolean): string | null {
  if (typeof raw !== 'string' || raw.length > 4096) return null;
  if (/[\s\u0000-\u001f\u007f\\#]/.test(raw)) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password) return null;
  for (const prefix of prefixes) {
    if (!raw.startsWith(prefix)) continue;
    if (u.origin !== new URL(prefix).origin) return null;
    let rest = raw.slice(prefix.length);
    const q = rest.indexOf('?');
    if (q >= 0) {
      if (!acceptQuery?.(new URLSearchParams(rest.slice(q + 1)))) return null;
      rest = rest.slice(0, q);
    }
    return decodeKeyPath(rest);
  }
  return null;
}

/**
 * host name as the storage resolves it: lower case, without the trailing dot of a fully qualified name; every
 * spelling of the loopback address (localhost, 127.x.y.z, [::1], [::ffff:7f00:1]) as one, since a storage listening
 * on one of them is reached through all of them
 */
const hostOf = (u: URL) => {
  const h = u.hostname.toLowerCase().replace(/\.$/, '');
  // 0.0.0.0 and [::] too: connecting to them reaches this machine on Linux
  return h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '[::1]' || h === '0.0.0.0' || h === '[::]' || /^\[::ffff:(127\.\d+\.\d+\.\d+|7f[0-9a-f]{2}:[0-9a-f]{1,4})\]$/.test(h) ? 'loopback' : h;
};
/** an explicit port, or the scheme's default: http and https on their default ports reach the same service */
const portOf = (u: URL) => u.port || 'default';

/**
 * Whether `raw` addresses anything below one of `prefixes`, in whatever spelling the URL parser or the storage
 * server would accept: http or https on the default ports, any query, fragment or user info, the host in any
 * case or with a trailing dot, dot segments, percent-encoded paths. For refusing links into our own storage,
 * where the literal match of keyFromObjectUrl would let a variant through. `alsoHost` may claim further host
 * names (the other spellings of an AWS bucket's host).
 */
export function pointsUnder(raw: string, prefixes: string[], alsoHost?: (host: string, path: string) => boolean): boolean {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  let decoded = u.pathname;
  try {
    decoded = decodeURIComponent(u.pathname);
  } catch {
    // a malformed escape: the raw path is compared
  }
  const host = hostOf(u);
  if (alsoHost?.(host, decoded)) return true;
  return prefixes.some((prefix) => {
    let p: URL;
    try {
      p = new URL(prefix);
    } catch {
      // a prefix that is no URL matches nothing (it must not turn a caller's link into a 500)
      return false;
    }
    if (host !== hostOf(p) || portOf(u) !== portOf(p)) return false;
    return u.pathname.startsWith(p.pathname) || decoded.startsWith(p.pathname) || `${u.pathname}/` === p.pathname;
  });
}
