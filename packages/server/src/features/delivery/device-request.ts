import { decodeFormComponent } from '../../core/form.js';
import type { DeviceCheck } from './engine/select.js';
import { parseVersion, type Version } from './engine/versions.js';

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
 * strict component decoder. A repeated field: the last one wins.
 */
export function fieldsFromForm(text: string, into: Fields = {}): Fields {
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    if (end > start) {
      const eq = text.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const k = decodeFormPart(text.slice(start, hasValue ? eq : end));
      into[k] = hasValue ? decodeFormPart(text.slice(eq + 1, end)) : '';
    }
    start = end + 1;
  }
  return into;
}

function decodeFormPart(s: string): string {
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
  return Object.assign(into, v);
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
  asked: string[] | 'all';
  /** installed versions: `existed`, else the version in `query` */
  installed: Map<string, InstalledApp>;
}

/** The device's user key: userId, else deviceId; '' when neither was sent. */
export function userKeyOf(f: Fields): string {
  const key = str(f, 'userId') || str(f, 'deviceId');
  if (key.length > MAX_ID_LENGTH) throw new BadDeviceRequest(`userId/deviceId has at most ${MAX_ID_LENGTH} characters`);
  // control characters (NUL above all: PostgreSQL text cannot hold it) are refused the same on both databases
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new BadDeviceRequest('userId/deviceId must not contain control characters');
  return key;
}

export function parseCheck(f: Fields, userKey: string, now: number): ParsedCheck {
  const platform = str(f, 'platform').toLowerCase();
  if (platform !== 'android' && platform !== 'ios') throw new BadDeviceRequest('platform must be android or ios');
  const system = str(f, 'system');
  const query = appMap(f.query, 'query');
  // clients often send the same map twice: parse it once
  const existed = f.existed === f.query ? query : appMap(f.existed, 'existed');
  const installed = new Map<string, InstalledApp>();
  let all = query === null;
  const asked: string[] = [];
  if (query) {
    for (const [id, version] of query) {
      if (id === ALL_APPS) all = true;
      else {
        asked.push(id);
        if (version !== '') installed.set(id, { version: parseVersion(version), text: version });
      }
    }
  }
  if (existed) {
    for (const [id, version] of existed) if (id !== ALL_APPS && version !== '') installed.set(id, { version: parseVersion(version), text: version });
  }
  return {
    check: {
      platform,
      client: parseVersion(str(f, 'client')),
      userKey,
      facts: {
        city: str(f, 'city').toLowerCase(),
        mobileModel: (str(f, 'model') || str(f, 'mobileModel')).toLowerCase(),
        netType: str(f, 'netType').toLowerCase(),
        osVersion: parseVersion(system),
        hasOsVersion: system !== '',
      },
      now,
    },
    asked: all ? 'all' : asked,
    installed,
  };
}

/** `query` / `existed`: a JSON object (or its text) of H5 app id -> {app_id, version} (or a bare version). */
function appMap(raw: unknown, name: string): Array<[string, string]> | null {
  if (raw === undefined || raw === null || raw === '') return null;
  let v = raw;
  if (typeof raw === 'string') {
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
