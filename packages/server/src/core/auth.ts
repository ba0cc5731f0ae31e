import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { SecretBox, safeEqual } from './crypto.js';
import { Pop } from './errors.js';
import { betweenChunks } from '../db/bulk-pace.js';
import { parseForm } from './form.js';
import { CONTROL_CHARS } from './text.js';
import { acs3Signature, parseAcs3Authorization, rpcSignature, sha256Hex, type Acs3Authorization } from './signature.js';
import { NonceBatcher } from './nonce-batcher.js';
import type { Deps } from './registry.js';

export const API_VERSION = '2020-10-28';

/** Parameters of the signature 1.0 protocol; everything else is a business parameter. */
const COMMON_PARAMS = new Set([
  'Action', 'Version', 'Format', 'Timestamp', 'SignatureNonce', 'SignatureMethod', 'SignatureVersion',
  'AccessKeyId', 'Signature', 'SecurityToken', 'RegionId', 'SignatureType',
]);

const REQUIRED_SIGNED_HEADERS = ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'];

export interface ParsedCall {
  style: 'acs3' | 'v1';
  action: string;
  version: string;
  accessKeyId: string;
  nonce: string;
  timestamp: string;
  params: Record<string, string>;
  /** verifies the signature with the given secret */
  verify(secret: string): boolean;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function toRecord(pairs: Array<[string, string]>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of pairs) {
    if (Object.prototype.hasOwnProperty.call(out, k)) throw Pop.badRequest(`The parameter "${k}" is given more than once.`);
    out[k] = v;
  }
  return out;
}

const NO_PAIRS: Array<[string, string]> = [];

// Calls are classes rather than object literals with a verify closure: this runs for every RPC call.
class Acs3Call implements ParsedCall {
  readonly style = 'acs3' as const;
  constructor(
    readonly action: string,
    readonly version: string,
    readonly accessKeyId: string,
    readonly nonce: string,
    readonly timestamp: string,
    readonly params: Record<string, string>,
    private readonly req: IncomingMessage,
    private readonly query: Array<[string, string]>,
    private readonly auth: Acs3Authorization,
    private readonly hashed: string,
  ) {}

  verify(secret: string): boolean {
    const { req } = this;
    if (!safeEqual(this.hashed, (header(req, 'x-acs-content-sha256') ?? '').toLowerCase())) return false;
    const sig = acs3Signature(
      {
        method: req.method ?? 'POST',
        path: '/',
        query: this.query,
        headers: req.headers,
        headersDistinct: () => req.headersDistinct,
        signedHeaders: this.auth.signedHeaders,
        hashedPayload: this.hashed,
      },
      secret,
    );
    return safeEqual(sig, this.auth.signature);
  }
}

class V1Call implements ParsedCall {
  readonly style = 'v1' as const;
  constructor(
    readonly action: string,
    readonly version: string,
    readonly accessKeyId: string,
    readonly nonce: string,
    readonly timestamp: string,
    readonly params: Record<string, string>,
    private readonly method: string,
    private readonly all: Array<[string, string]>,
    private readonly given: string,
  ) {}

  verify(secret: string): boolean {
    return safeEqual(rpcSignature(this.method, this.all, secret), this.given);
  }
}

const SINGLE_HEADERS = ['authorization', 'x-acs-signature-nonce', 'x-acs-date', 'x-acs-action', 'x-acs-version', 'x-acs-content-sha256', 'content-type'];
const SINGLE_INDEX = new Map(SINGLE_HEADERS.map((h, i) => [h, i]));

/** The first of SINGLE_HEADERS sent on more than one line; counted on rawHeaders, as headersDistinct builds an object of every header. */
function repeatedHeader(raw: string[]): string | undefined {
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = SINGLE_INDEX.get(raw[i]!.toLowerCase());
    if (k === undefined) continue;
    if (seen & (1 << k)) return SINGLE_HEADERS[k];
    seen |= 1 << k;
  }
  return undefined;
}

/** Splits a request into action, credentials and parameters; throws PopError on malformed input. */
export function parseCall(req: IncomingMessage, raw: Buffer): ParsedCall {
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const path = qi < 0 ? url : url.slice(0, qi);
  if (path !== '/') throw Pop.action(undefined);
  const query = qi < 0 ? NO_PAIRS : parseForm(url.slice(qi + 1));
  let body = NO_PAIRS;
  if (raw.length) {
    const ct = (header(req, 'content-type') ?? '').toLowerCase();
    // the media type itself, then only parameters ("; charset=UTF-8"): not any type that merely starts so
    if (!/^application\/x-www-form-urlencoded\s*(;|$)/.test(ct)) throw Pop.badRequest('The request body must be application/x-www-form-urlencoded.');
    if (!isUtf8(raw)) throw Pop.badRequest('The request body is not valid UTF-8.');
    body = parseForm(raw.toString('utf8'));
  }
  const all = query.length === 0 ? body : body.length === 0 ? query : [...query, ...body];
  const authz = header(req, 'authorization');
  if (authz && /^ACS3-/i.test(authz)) {
    // Node joins repeated lines of these with ", ", the signature joins them with ",": a comma-holding nonce split
    // over two lines signed like the original but was recorded as another nonce, so the call could be replayed
    const twice = repeatedHeader(req.rawHeaders);
    if (twice) throw Pop.badRequest(`The ${twice} header is sent more than once.`);
    const parsed = parseAcs3Authorization(authz);
    if (!parsed) throw Pop.badRequest('The Authorization header is malformed.');
    for (const h of REQUIRED_SIGNED_HEADERS) {
      if (!header(req, h)) throw Pop.missing(h);
      if (!parsed.signedHeaders.includes(h)) throw Pop.badRequest(`SignedHeaders must include ${h}.`);
    }
    if (raw.length && !parsed.signedHeaders.includes('content-type')) throw Pop.badRequest('SignedHeaders must include content-type.');
    // The canonical query holds the keys as they are (reference §1.3), so a key holding "=" or "&" would make
    // two different queries sign alike ("Force%3Dtrue%26Grace=0" signs as "Force=true&Grace=0"): refused.
    for (const [k] of query) if (k.includes('=') || k.includes('&')) throw Pop.invalid(k, 'a query parameter name must not contain "=" or "&"');
    return new Acs3Call(
      header(req, 'x-acs-action')!,
      header(req, 'x-acs-version')!,
      parsed.accessKeyId,
      header(req, 'x-acs-signature-nonce')!,
      header(req, 'x-acs-date')!,
      toRecord(all),
      req,
      query,
      parsed,
      sha256Hex(raw),
    );
  }
  const all1 = toRecord(all);
  if (all1.Signature === undefined) throw Pop.missing(authz ? 'Authorization' : 'Signature');
  for (const p of ['AccessKeyId', 'Action', 'Version', 'Timestamp', 'SignatureNonce', 'SignatureMethod', 'SignatureVersion']) if (!all1[p]) throw Pop.missing(p);
  if (all1.SignatureMethod !== 'HMAC-SHA1') throw Pop.invalid('SignatureMethod', 'only HMAC-SHA1 is supported');
  if (all1.SignatureVersion !== '1.0') throw Pop.invalid('SignatureVersion', 'only 1.0 is supported');
  const params: Record<string, string> = Object.create(null);
  for (const k in all1) if (!COMMON_PARAMS.has(k)) params[k] = all1[k]!;
  return new V1Call(all1.Action!, all1.Version!, all1.AccessKeyId!, all1.SignatureNonce!, all1.Timestamp!, params, req.method ?? 'GET', all, all1.Signature);
}

// Calls signed in the same second carry the same timestamp: its parse (a tenth of a signed call's own work) runs once
let lastTimestamp = '';
let lastTimestampMs = 0;

export function checkTimestamp(ts: string, nowMs: number, skewSec: number): void {
  let t = lastTimestampMs;
  if (ts !== lastTimestamp) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(ts)) throw Pop.timestampFormat();
    t = Date.parse(ts);
    // Date.parse rolls impossible fields over (2026-02-29 is 1 March, 24:00:00 the next day): refused instead
    if (!Number.isFinite(t) || new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z') !== ts) throw Pop.timestampFormat();
    lastTimestamp = ts;
    lastTimestampMs = t;
  }
  if (Math.abs(nowMs - t) > skewSec * 1000) throw Pop.expired(skewSec);
}

interface KeyRow {
  id: string;
  tenant_id: string;
  secret_enc: string;
  status: string;
  expires_at: number | string | null;
  /** the owning tenant's status: a disabled tenant's keys are all inactive */
  tenant_status: string | null;
}

export interface Principal {
  accessKeyId: string;
  tenantId: string;
}

/**
 * Kept past the timestamp window: the window is read on each node's clock, and
 * a nonce is swept by whichever node's clock says it expired. A node running
 * ahead swept it while a node running behind still accepted its timestamp, and
 * the replay passed there. Covers clocks up to this far apart.
 */
export const NONCE_CLOCK_MARGIN_MS = 60_000;

/**
 * Credential checks shared by all nodes through the database. Key rows are
 * cached for `cacheMs` so a disabled or rotated key stops working on every
 * node within that time; the nonce is recorded in the database so a replay is
 * refused whichever node it reaches.
 */
export class Authenticator {
  private readonly keyCache = new Map<string, { row: KeyRow | null; at: number }>();
  private readonly secrets = new Map<string, string>();
  private readonly nonces: NonceBatcher;

  constructor(
    private readonly deps: Deps,
    private readonly cacheMs = 1000,
  ) {
    this.nonces = new NonceBatcher(deps.db);
  }

  async authenticate(call: ParsedCall): Promise<Principal> {
    const { config, now } = this.deps;
    const t = now();
    checkTimestamp(call.timestamp, t, config.auth.timestampSkewSec);
    if (call.nonce.length > 128) throw Pop.invalid('SignatureNonce', 'at most 128 characters');
    // both go into SQL: PostgreSQL refuses a NUL in text, and one bad row must not fail the batch it joins
    if (CONTROL_CHARS.test(call.nonce)) throw Pop.invalid('SignatureNonce', 'contains a control character');
    if (call.accessKeyId.length > 128 || CONTROL_CHARS.test(call.accessKeyId)) throw Pop.keyNotFound();
    const hit = this.keyCache.get(call.accessKeyId);
    const row = hit && t - hit.at < this.cacheMs ? hit.row : await this.keyRow(call.accessKeyId, t);
    if (!row) throw Pop.keyNotFound();
    const expires = row.expires_at === null ? null : Number(row.expires_at);
    if (row.status !== 'active' || row.tenant_status !== 'active' || (expires !== null && expires <= t)) throw Pop.keyInactive();
    if (!call.verify(this.secretOf(row))) throw Pop.signature();
    // One batched write records the nonce and counts the request in its key's rate window.
    const limit = config.auth.rateLimitPerSec;
    const window = limit > 0 ? Math.floor(t / 1000) * 1000 : null;
    const { fresh, count } = await this.nonces.admit(row.id, call.nonce, t + 2 * config.auth.timestampSkewSec * 1000 + NONCE_CLOCK_MARGIN_MS, window);
    if (!fresh) throw Pop.nonceUsed();
    const principal = { accessKeyId: row.id, tenantId: row.tenant_id };
    if (window !== null && count > limit) throw Object.assign(Pop.throttled(Math.max(1, Math.ceil((window + 1000 - t) / 1000))), { principal });
    return principal;
  }

  private async keyRow(id: string, t: number): Promise<KeyRow | null> {
    const [row = null] = await this.deps.db.all<KeyRow>(
      'SELECT k.id, k.tenant_id, k.secret_enc, k.status, k.expires_at, t.status AS tenant_status FROM access_keys k LEFT JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ?',
      [id],
    );
    if (this.keyCache.size > 10000) this.keyCache.clear();
    this.keyCache.set(id, { row, at: t });
    return row;
  }

  private secretOf(row: KeyRow): string {
    let s = this.secrets.get(row.secret_enc);
    if (s === undefined) {
      s = openSecret(this.deps.box, row.id, row.secret_enc);
      if (this.secrets.size > 10000) this.secrets.clear();
      this.secrets.set(row.secret_enc, s);
    }
    return s;
  }

  /**
   * Deletes expired nonces and old rate windows; safe to run on every node.
   * In chunks, each its own short statement: a minute of nonces under load is
   * hundreds of thousands of rows, and one DELETE of them all would hold
   * SQLite's write lock (and this node's event loop) for seconds. Stops
   * between two chunks once `signal` is aborted (the node is stopping).
   */
  async sweep(chunk = 2000, signal?: AbortSignal): Promise<void> {
    const t = this.deps.now();
    const { db } = this.deps;
    const row = db.dialect === 'pg' ? 'ctid' : 'rowid';
    const expired = [
      [`DELETE FROM request_nonces WHERE ${row} IN (SELECT ${row} FROM request_nonces WHERE expires_at < ? LIMIT ${chunk}) RETURNING 1 AS gone`, t],
      [`DELETE FROM rate_windows WHERE ${row} IN (SELECT ${row} FROM rate_windows WHERE window_start < ? LIMIT ${chunk}) RETURNING 1 AS gone`, t - 60_000],
    ] as const;
    for (const [sql, before] of expired) {
      let n = 0;
      while ((await db.all(sql, [before])).length === chunk) if (!(await betweenChunks(db, ++n, signal))) return;
    }
  }
}

export function sealSecret(box: SecretBox, keyId: string, secret: string): string {
  return box.seal(secret, `ak:${keyId}`);
}

/** The secret sealSecret sealed for key `keyId`; throws when the master key (or the key id) does not match. */
export function openSecret(box: SecretBox, keyId: string, sealed: string): string {
  return box.open(sealed, `ak:${keyId}`).toString('utf8');
}

