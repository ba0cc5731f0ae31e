import { decodeFormComponent } from '../../core/form.js';
import { CONTROL_CHARS } from '../../core/text.js';
import { netTypeKey } from './engine/rules.js';
import type { DeviceCheck } from './engine/select.js';
import { parseVersion, type Version } from './engine/versions.js';
import { detached, TextCache } from './text-cache.js';

/** `query` key that asks for every H5 app ("update all"). */
export const ALL_APPS = 'nebula-*-all';

const MAX_APPS_IN_MAP = 1000;
const MAX_ID_LENGTH = 256;

/** A refusal with its HTTP status (400 unless said otherwise). */
export class BadDeviceRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** Raw request fields: query string, then form or JSON body on top. */
export type Fields = Record<string, unknown>;

/**
 * application/x-www-form-urlencoded (and query strings), with the RPC entry's
 * strict component decoder. A repeated field: the last one wins. Clients
 * usually send `query` and `existed` as the same long map: a value equal to
 * the previous long one is decoded once (and both fields then hold the same
 * string, so parseCheck parses the map once).
 */
export function fieldsFromForm(text: string, into: Fields = {}): Fields {
  let start = 0;
  let lastRaw = '';
  let lastValue = '';
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const eq = text.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const k = decodeFormPart(text.slice(start, hasValue ? eq : end));
      if (!hasValue) into[k] = '';
      else {
        const raw = text.slice(eq + 1, end);
        if (raw.length < MEMO_FROM) into[k] = decodeFormPart(raw);
        else if (raw === lastRaw) into[k] = lastValue;
        else into[k] = lastValue = decodeLong((lastRaw = raw));
      }
    }
    start = end + 1;
  }
  return into;
}

/** No '%' and no '+': decodes to itself. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */ || c === 43 /* + */) return false;
  }
  return true;
}

/** Values at least this long are compared with the previous one, then looked up in the decoded cache. */
const MEMO_FROM = 64;

/** Long form values (the app maps) -> decoded text. The decoded string is the same object on every hit, which makes it a cheap key for the parse cache. */
const decoded = new TextCache<string>(8192, 4_000_000);

function decodeLong(raw: string): string {
  let v = decoded.get(raw);
  if (v === undefined) {
    // decoded from the copy: a value without escapes is the text itself, and must not hold the body either
    const key = detached(raw);
    v = decodeFormPart(key ?? raw);
    if (key !== null) decoded.set(key, v, v === key ? 0 : v.length);
  }
  return v;
}

function decodeFormPart(s: string): string {
  // the usual short field has nothing to decode: one pass over it instead of decodeFormComponent's two
  if (s.length < MEMO_FROM && isPlain(s)) return s;
  const v = decodeFormComponent(s);
  if (v === null) throw new BadDeviceRequest('malformed percent-encoding or invalid UTF-8 in the form or query string');
  return v;
}

export function fieldsFromJson(text: string, into: Fields = {}): Fields {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new BadDeviceRequest('the body is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadDeviceRequest('the JSON body must be an object');
  // own members only: Object.assign would have taken a "__proto__" member as the prototype of the fields
  for (const [k, val] of Object.entries(v)) if (k !== '__proto__') into[k] = val;
  return into;
}

export function str(f: Fields, name: string): string {
  const v = f[name];
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
}

export interface InstalledApp {
  version: Version;
  text: string;
}

export interface ParsedCheck {
  check: DeviceCheck;
  /** H5 app ids asked about, or 'all' (`nebula-*-all`, or no query at all) */
  asked: readonly string[] | 'all';
  /** installed versions: `existed`, else the version in `query` (shared between requests through the parse cache: read-only) */
  installed: ReadonlyMap<string, InstalledApp>;
}

/**
 * What a user key may not hold: control characters (NUL above all: PostgreSQL
 * text cannot hold it; refused the same on both databases), and lone
 * surrogates (JSON "\ud800"), which both databases store as U+FFFD, so the
 * stored key would not be the key asked with.
 */
const BAD_KEY_CHAR = /[\u0000-\u001f\u007f]|\p{Cs}/u;

/**
 * The user id: `userId`, or `user_id`, the name the Alipay open-API twin of
 * Nebula's request uses (offline-package-format.md §5.2; Nebula's own AppReq
 * has no user id, a gateway in front adds one).
 */
const userIdOf = (f: Fields) => str(f, 'userId') || str(f, 'user_id');

/** The device id: `deviceId`, or the device ids stock clients send, `utdid` and `diu`. */
const deviceIdOf = (f: Fields) => str(f, 'deviceId') || str(f, 'utdid') || str(f, 'diu');

/** The device's user key: the user id, else the device id; '' when neither was sent. */
export function userKeyOf(f: Fields): string {
  const key = userIdOf(f) || deviceIdOf(f);
  if (key.length > MAX_ID_LENGTH) throw new BadDeviceRequest(`userId/deviceId has at most ${MAX_ID_LENGTH} characters`);
  // one scan per check; which of the two it was is asked only when refusing
  if (BAD_KEY_CHAR.test(key)) {
    throw new BadDeviceRequest(CONTROL_CHARS.test(key) ? 'userId/deviceId must not contain control characters' : 'userId/deviceId must be valid Unicode');
  }
  return key;
}

/** dotted numbers, then optionally a suffix after -, +, _ or ~ */
const CLIENT_VERSION = /^(\d{1,9}(?:\.\d{1,9}){0,7})(?:[-+_~][\x21-\x7e]{0,64})?$/;

/** clientRequired: false for the switch pull, where a missing (or unreadable) client version only matches exclude rules */
export function parseCheck(f: Fields, userKey: string, now: number, opts: { clientRequired: boolean } = { clientRequired: true }): ParsedCheck {
  const platform = str(f, 'platform').toLowerCase();
  if (platform !== 'android' && platform !== 'ios') throw new BadDeviceRequest('platform must be android or ios');
  const system = str(f, 'system');
  // the host app's version: a package's client range is decided on it, so a package or upgrade check without one is
  // refused, not answered as version 0 (which no package reaches); a versionName's suffix ("5.2-beta") is dropped
  const given = str(f, 'client');
  const clientMatch = CLIENT_VERSION.exec(given);
  // where it is optional (the switch pull), an unreadable one counts as absent: the device still gets its keys
  if (!clientMatch && opts.clientRequired) throw new BadDeviceRequest('client must be the app\'s version, e.g. 4.0.0 (a suffix such as -beta is allowed)');
  const clientText = clientMatch ? clientMatch[1]! : '';
  const client = versionOf(clientText);
  const { asked, installed } = appsOf(f.query, f.existed);
  return {
    check: {
      platform,
      client,
      userKey,
      userId: userIdOf(f),
      facts: {
        city: str(f, 'city').toLowerCase(),
        mobileModel: (str(f, 'model') || str(f, 'mobileModel')).toLowerCase(),
        netType: netTypeKey(str(f, 'netType')),
        osVersion: versionOf(system),
        hasOsVersion: system !== '',
        clientVersion: client,
        hasClientVersion: clientText !== '',
      },
      now,
    },
    asked,
    installed,
  };
}

type AskedApps = Pick<ParsedCheck, 'asked' | 'installed'>;

/**
 * Parsed `query`/`existed` texts, and the asked/installed pair of a `query`
 * sent without an `existed` or with the same text as `existed` (the two give
 * the same pair). Shared between requests: never modified.
 */
/**
 * What one parsed app costs a cache beyond its text, in characters (the pair
 * or map entry and its objects): counted, so a flood of distinct maps of
 * many tiny entries stays within the caches' bounds in memory too.
 */
const PER_APP_WEIGHT = 48;
const parsedMaps = new TextCache<Array<[string, string]>>(8192, 4_000_000);
const parsedApps = new TextCache<AskedApps>(8192, 4_000_000);

function appsOf(queryRaw: unknown, existedRaw: unknown): AskedApps {
  const single = typeof queryRaw === 'string' && queryRaw.length >= MEMO_FROM && (existedRaw === undefined || existedRaw === queryRaw);
  if (single) {
    const hit = parsedApps.get(queryRaw);
    if (hit) return hit;
  }
  const query = cachedAppMap(queryRaw, 'query');
  // clients often send the same map twice: parse it once
  const existed = existedRaw === queryRaw ? query : cachedAppMap(existedRaw, 'existed');
  const installed = new Map<string, InstalledApp>();
  let all = query === null;
  const asked: string[] = [];
  if (query) {
    for (const [id, version] of query) {
      if (id === ALL_APPS) all = true;
      else {
        asked.push(id);
        if (version !== '') installed.set(id, { version: versionOf(version), text: version });
      }
    }
  }
  if (existed) {
    for (const [id, version] of existed) if (id !== ALL_APPS && version !== '') installed.set(id, { version: versionOf(version), text: version });
  }
  const out: AskedApps = { asked: all ? 'all' : asked, installed };
  if (single) {
    const key = detached(queryRaw);
    if (key !== null) parsedApps.set(key, out, key.length + PER_APP_WEIGHT * (asked.length + installed.size));
  }
  return out;
}

function cachedAppMap(raw: unknown, name: string): Array<[string, string]> | null {
  if (typeof raw !== 'string' || raw.length < MEMO_FROM) return appMap(raw, name);
  const hit = parsedMaps.get(raw);
  if (hit !== undefined) return hit;
  const key = detached(raw);
  if (key === null) return appMap(raw, name);
  // parsed from the copy, so the ids and versions (slices of it) hold no request body
  const pairs = appMap(key, name)!;
  parsedMaps.set(key, pairs, PER_APP_WEIGHT * pairs.length);
  return pairs;
}

/**
 * Parsed versions, shared: devices send few distinct version strings, and a
 * Version is never modified. Bounded: cleared when it grows past the limit.
 */
const versions = new Map<string, Version>();
const MAX_CACHED_VERSIONS = 10_000;

function versionOf(text: string): Version {
  let v = versions.get(text);
  if (v === undefined) {
    if (text.length > 64) return parseVersion(text);
    if (versions.size >= MAX_CACHED_VERSIONS) versions.clear();
    v = parseVersion(text);
    versions.set(text, v);
  }
  return v;
}

/** `query` / `existed`: a JSON object (or its text) of H5 app id -> {app_id, version} (or a bare version). */
export function appMap(raw: unknown, name: string): Array<[string, string]> | null {
  if (raw === undefined || raw === null || raw === '') return null;
  let v = raw;
  if (typeof raw === 'string') {
    const fast = scanAppMap(raw);
    if (fast !== null) {
      if (fast.length > MAX_APPS_IN_MAP) throw new BadDeviceRequest(`${name} lists more than ${MAX_APPS_IN_MAP} apps`);
      return fast;
    }
    try {
      v = JSON.parse(raw);
    } catch {
      throw new BadDeviceRequest(`${name} is not valid JSON`);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadDeviceRequest(`${name} must be a JSON object of H5 app id -> {app_id, version}`);
  const out: Array<[string, string]> = [];
  for (const id in v as Record<string, unknown>) {
    if (out.length >= MAX_APPS_IN_MAP) throw new BadDeviceRequest(`${name} lists more than ${MAX_APPS_IN_MAP} apps`);
    const e = (v as Record<string, unknown>)[id];
    const version = typeof e === 'string' ? e : e && typeof e === 'object' ? (e as { version?: unknown }).version : undefined;
    out.push([id, typeof version === 'string' ? version.trim() : typeof version === 'number' ? String(version) : '']);
  }
  return out;
}

/**
 * The usual map text without JSON.parse (which builds an object per app, and
 * for numeric H5 ids a dictionary-mode one): a flat object whose values are
 * strings or flat objects of strings, no escapes. Gives exactly what
 * JSON.parse plus the for-in above give, order included (array-index keys
 * ascending first, then the others in first-seen order; a repeated key keeps
 * its first place and its last value). null for anything else (numbers,
 * nesting, escapes, invalid JSON): the caller then takes the general path.
 */
export function scanAppMap(s: string): Array<[string, string]> | null {
  const n = s.length;
  let i = skipWs(s, 0);
  if (s.charCodeAt(i) !== 123 /* { */) return null;
  i = skipWs(s, i + 1);
  const out: Array<[string, string]> = [];
  // where each key is in `out` (a repeated key keeps its place, takes the last value); searched linearly while short
  let at: Map<string, number> | null = null;
  // whether `out` already has the object key order: ascending array indices, then the rest
  let ordered = true;
  let lastIndex = -1;
  let sawName = false;
  if (s.charCodeAt(i) === 125 /* } */) i++;
  else {
    for (;;) {
      const keyEnd = stringEnd(s, i);
      if (keyEnd < 0) return null;
      const id = s.slice(i + 1, keyEnd);
      i = skipWs(s, keyEnd + 1);
      if (s.charCodeAt(i) !== 58 /* : */) return null;
      i = skipWs(s, i + 1);
      let version: string;
      const c = s.charCodeAt(i);
      if (c === 34 /* " */) {
        const end = stringEnd(s, i);
        if (end < 0) return null;
        version = s.slice(i + 1, end).trim();
        i = end + 1;
      } else if (c === 123 /* { */) {
        version = '';
        i = skipWs(s, i + 1);
        if (s.charCodeAt(i) === 125) i++;
        else {
          for (;;) {
            const nameEnd = stringEnd(s, i);
            if (nameEnd < 0) return null;
            const isVersion = nameEnd - i === 8 && s.startsWith('version', i + 1);
            i = skipWs(s, nameEnd + 1);
            if (s.charCodeAt(i) !== 58) return null;
            i = skipWs(s, i + 1);
            const valueEnd = stringEnd(s, i);
            if (valueEnd < 0) return null;
            if (isVersion) version = s.slice(i + 1, valueEnd).trim();
            i = skipWs(s, valueEnd + 1);
            const d = s.charCodeAt(i);
            if (d === 125) {
              i++;
              break;
            }
            if (d !== 44 /* , */) return null;
            i = skipWs(s, i + 1);
          }
        }
      } else return null;
      let seen = -1;
      if (at !== null) seen = at.get(id) ?? -1;
      else {
        for (let k = 0; k < out.length; k++) {
          if (out[k]![0] === id) {
            seen = k;
            break;
          }
        }
      }
      if (seen >= 0) out[seen]![1] = version;
      else {
        if (at === null && out.length === LINEAR_UP_TO) at = new Map(out.map(([k], j) => [k, j]));
        if (at !== null) at.set(id, out.length);
        out.push([id, version]);
        if (ordered) {
          const index = arrayIndexOf(id);
          if (index < 0) sawName = true;
          else if (sawName || index <= lastIndex) ordered = false;
          else lastIndex = index;
        }
      }
      i = skipWs(s, i);
      const d = s.charCodeAt(i);
      if (d === 125) {
        i++;
        break;
      }
      if (d !== 44) return null;
      i = skipWs(s, i + 1);
    }
  }
  if (skipWs(s, i) !== n) return null;
  if (ordered) return out;
  // the property order of a JS object: array indices ascending, then the other keys as inserted
  const indices = out.filter(([id]) => arrayIndexOf(id) >= 0).sort((a, b) => arrayIndexOf(a[0]) - arrayIndexOf(b[0]));
  return indices.concat(out.filter(([id]) => arrayIndexOf(id) < 0));
}

const LINEAR_UP_TO = 16;

function skipWs(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return i;
    i++;
  }
}

/** Index of the closing quote of a JSON string without escapes starting at i; -1 when there is none or it needs the full parser. */
function stringEnd(s: string, i: number): number {
  if (s.charCodeAt(i) !== 34) return -1;
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 34) return j;
    if (c === 92 /* \ */ || c < 32) return -1;
  }
  return -1;
}

/** The value of an array index (a canonical integer from 0 to 2^32 - 2, which a JS object lists first, ascending); -1 for any other key. */
function arrayIndexOf(k: string): number {
  const len = k.length;
  if (len === 0 || len > 10) return -1;
  if (len > 1 && k.charCodeAt(0) === 48 /* 0 */) return -1;
  let v = 0;
  for (let j = 0; j < len; j++) {
    const c = k.charCodeAt(j);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v <= 4294967294 ? v : -1;
}
