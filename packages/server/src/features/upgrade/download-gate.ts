import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../../config.js';
import { readBody } from '../../core/body.js';
import { safeEqual } from '../../core/crypto.js';
import type { Deps } from '../../core/registry.js';
import { num } from '../../db/database.js';
import { isRowId } from './upgrade-store.js';

/**
 * Download verification (guide §4.4 "Download verification": after the QR code
 * is scanned, the package can be downloaded only after the verification code
 * is verified). The QR code of a package with NeedCheck 1 encodes
 * /download/<id>.<tag> on this service, not the file: a page asks for the
 * code, and the right code is answered with a redirect to the package's
 * download link, so the server still never carries the file's bytes. The tag
 * (an HMAC of the package's id and scope under a key derived from the master
 * key) keeps package ids from being walked; wrong codes are limited per
 * package and node.
 */
export const DOWNLOAD_GATE_PATH = '/download/';
/**
 * Wrong codes per minute on one node before it answers 429 (a 6-digit code has a million values): per caller address
 * and package, so one caller's guessing does not lock everyone else out, and per package from all callers together,
 * which bounds guessing from many addresses (and takes ten times the requests to lock a package).
 */
export const MAX_WRONG_CODES_PER_MIN = 20;
export const MAX_WRONG_CODES_PER_PACKAGE_PER_MIN = 200;
/** The link a right code is answered with: signed for this caller now, good for a few minutes, never the shared one. */
export const GATE_LINK_TTL_SEC = 300;

const gateKeyOf = (masterKey: Buffer) => createHmac('sha256', masterKey).update('mcube download gate v1').digest();
const gateKey = (config: Pick<Config, 'masterKey'>) => gateKeyOf(config.masterKey);
const tagOf = (key: Buffer, id: number, appId: string, workspaceId: string) => createHmac('sha256', key).update(`${id}\u0000${appId}\u0000${workspaceId}`).digest('base64url').slice(0, 22);

/** The address a NeedCheck package's QR code encodes. */
export function downloadGateUrl(config: Pick<Config, 'masterKey' | 'publicUrl'>, scope: { appId: string; workspaceId: string }, packageId: number): string {
  return `${config.publicUrl.replace(/\/+$/, '')}${DOWNLOAD_GATE_PATH}${packageId}.${tagOf(gateKey(config), packageId, scope.appId, scope.workspaceId)}`;
}

interface GatedPackage {
  id: number;
  appVersion: string;
  platform: string;
  fileKey: string;
  code: string;
}

/** `addressOf`: the caller's address, as the device endpoints read it (MCUBE_TRUST_PROXY_HOPS). */
export function createDownloadGate(deps: Deps, addressOf: (req: IncomingMessage) => string): { handle(req: IncomingMessage, res: ServerResponse): boolean } {
  // QR codes made before a master key rotation keep working while the old key is open-only
  const keys = [gateKey(deps.config), ...deps.config.masterKeysOpenOnly.map(gateKeyOf)];
  let window = -1;
  // package id -> wrong codes this minute; "id address" -> the same per caller (bounded: cleared each minute)
  let wrong = new Map<number, number>();
  let wrongBy = new Map<string, number>();

  const find = async (token: string): Promise<GatedPackage | null> => {
    const m = /^(\d{1,15})\.([A-Za-z0-9_-]{22})$/.exec(token);
    if (!m) return null;
    const id = Number(m[1]);
    // beyond the id column's range PostgreSQL would refuse the query (and an anonymous caller fill the error log)
    if (!isRowId(id)) return null;
    const row = await deps.db.knex('upgrade_packages').where({ id }).first('id', 'app_id', 'workspace_id', 'app_version', 'platform', 'file_key', 'need_check', 'verification_code');
    if (!row || !keys.some((key) => safeEqual(tagOf(key, id, row.app_id, row.workspace_id), m[2]!))) return null;
    if (num(row.need_check) !== 1 || !row.file_key) return null;
    return { id, appVersion: row.app_version, platform: row.platform, fileKey: row.file_key, code: String(row.verification_code) };
  };

  const overLimit = (id: number, caller: string): boolean => {
    const w = Math.floor(deps.now() / 60_000);
    if (w !== window) {
      window = w;
      wrong = new Map();
      wrongBy = new Map();
    }
    return (wrongBy.get(caller) ?? 0) >= MAX_WRONG_CODES_PER_MIN || (wrong.get(id) ?? 0) >= MAX_WRONG_CODES_PER_PACKAGE_PER_MIN;
  };

  const serve = async (req: IncomingMessage, res: ServerResponse, token: string): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'POST') {
      req.resume();
      return page(res, 405, 'Method not allowed', '<p>Open this address in a browser.</p>', { allow: 'GET, POST' });
    }
    const body = req.method === 'POST' ? await readBody(req, 1024, deps.config.http.bodyTimeoutMs) : null;
    if (!body) req.resume();
    const p = await find(token);
    if (!p) return page(res, 404, 'Not found', '<p>There is no download at this address.</p>');
    const what = `${p.platform} ${p.appVersion}`;
    if (body === null) return page(res, 200, `Download ${what}`, form(''));
    const caller = `${p.id} ${addressOf(req)}`;
    if (overLimit(p.id, caller)) return page(res, 429, 'Too many attempts', '<p>Too many wrong codes; wait a minute and try again.</p>', { 'retry-after': '60' });
    const code = new URLSearchParams(body.toString('utf8')).get('code')?.trim() ?? '';
    if (!safeEqual(code, p.code)) {
      wrong.set(p.id, (wrong.get(p.id) ?? 0) + 1);
      wrongBy.set(caller, (wrongBy.get(caller) ?? 0) + 1);
      return page(res, 403, `Download ${what}`, form('<p role="alert">That code is not right.</p>'));
    }
    // not the package's shared link (valid for days, or for good under MCUBE_DOWNLOAD_BASE_URL): passing the gate once
    // would have opened the file to anyone the link reached
    const link = await deps.blobs.downloadUrl(p.fileKey, { ttlSec: GATE_LINK_TTL_SEC });
    res.writeHead(302, { location: link, 'cache-control': 'no-store', 'content-length': 0 }).end();
  };

  return {
    handle(req, res) {
      const url = req.url ?? '/';
      if (!url.startsWith(DOWNLOAD_GATE_PATH)) return false;
      const q = url.indexOf('?');
      const token = (q < 0 ? url : url.slice(0, q)).slice(DOWNLOAD_GATE_PATH.length);
      serve(req, res, token).catch((err: Error & { status?: number }) => {
        if (res.headersSent) return void res.destroy();
        if (err.status === 413 || err.status === 408) return page(res, err.status, 'Refused', '<p>The request was refused.</p>', { connection: 'close' });
        deps.log.error('download gate failed', { error: err.message });
        page(res, 500, 'Error', '<p>Something went wrong; try again.</p>');
      });
      return true;
    },
  };
}

const form = (note: string) =>
  `${note}<form method="post"><label>Verification code <input name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="16" autofocus required></label> <button type="submit">Download</button></form>`;

function page(res: ServerResponse, status: number, title: string, body: string, headers: Record<string, string> = {}): void {
  const html = `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
  res
    .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store', 'x-frame-options': 'DENY', ...headers })
    .end(html);
}
