import { h5JsonEntry, RESOURCE_TYPE_GLOBAL } from '../packages/index.js';
import type { ResourceRow } from './snapshot.js';

/** Nebula's success code: clients reject an update answer unless resultCode is 100. */
export const RESULT_OK = 100;
/** Nebula's rate-limit code: the client backs off for its `limitReqRate`. */
export const RESULT_RATE_LIMITED = 1002;

/** The vhost a package's files are served under: the resource's own (set on create), else https://<h5Id>.<workspace vhost domain>. */
export function vhostOf(resource: Pick<ResourceRow, 'vhost' | 'h5_id'>, vhostDomain: string): string {
  if (resource.vhost) return resource.vhost;
  if (/^https?:\/\//i.test(vhostDomain)) return vhostDomain.replace(/\/+$/, '');
  const domain = vhostDomain.replace(/\/+$/, '');
  return domain ? `https://${resource.h5_id}.${domain}` : '';
}

/**
 * The h5.json app object of one resource (offline-package-format.md §2.4),
 * from the packages feature's h5JsonEntry (the same object the downloadable
 * h5.json holds), plus `md5` (of the .amr) and `size` (its bytes); keys in
 * alphabetical order, as console exports write them. Serialised once per
 * snapshot, never per request.
 */
export function entryJson(r: ResourceRow, packageUrl: string, vhostDomain: string, fallbackBaseUrl = ''): string {
  const input = {
    h5Id: r.h5_id,
    h5Name: r.h5_name,
    version: r.h5_version,
    packageUrl,
    fallbackBaseUrl,
    mainUrl: r.main_url,
    vhost: vhostOf(r, vhostDomain),
    autoInstall: r.auto_install,
    installType: r.install_type,
    extendInfo: r.extend_info,
    subUrl: r.sub_url,
    resourceType: (r.resource_type === RESOURCE_TYPE_GLOBAL ? 0 : 1) as 0 | 1,
    globalPackUrl: r.global_pack_url ?? '',
  };
  let entry: Record<string, unknown>;
  try {
    entry = h5JsonEntry(input);
  } catch {
    // extend_info is checked on write; a row that still fails gets the console default
    entry = h5JsonEntry({ ...input, extendInfo: '' });
  }
  entry.md5 = r.md5;
  entry.size = r.file_size;
  return JSON.stringify(Object.fromEntries(Object.entries(entry).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

const RESULT_TAIL = ',"resultCode":100,"resultMsg":"success","state":"success"}';
const TAIL = ',"removeAppIdList":[]' + RESULT_TAIL;
const EMPTY_DISCARD_TAIL = '],"discardData":{}' + TAIL;
const EMPTY_DISCARD_TAIL_BYTES = Buffer.byteLength(EMPTY_DISCARD_TAIL);

/** A piece of the answer and its length in UTF-8 bytes (so Content-Length needs no encoding pass). */
export interface Piece {
  text: string;
  bytes: number;
}

export const piece = (text: string): Piece => ({ text, bytes: Buffer.byteLength(text) });

/** `{"config":...,"data":[` of a snapshot. */
export function answerHead(configJson: string): Piece {
  return piece('{"config":' + configJson + ',"data":[');
}

/**
 * The whole answer from the snapshot's pre-serialised parts: the head, the
 * chosen entries, and `discard` pairs (H5 app id, installed version as the
 * device sent it) for rollbacks. A string, not a Buffer: nothing to allocate
 * outside the heap per answer (the Buffer version took a fresh pool slab every
 * other request), and node:http joins a string body to its header string, so
 * the socket gets one chunk where a Buffer body is a second one.
 */
export function renderAnswer(
  head: Piece,
  entries: ReadonlyArray<{ entry: Piece }>,
  discard: ReadonlyArray<readonly [string, string]>,
  remove: readonly string[] = [],
): Piece {
  let text = head.text;
  let bytes = head.bytes;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!.entry;
    if (i > 0) {
      text += ',';
      bytes++;
    }
    text += e.text;
    bytes += e.bytes;
  }
  if (discard.length === 0 && remove.length === 0) return { text: text + EMPTY_DISCARD_TAIL, bytes: bytes + EMPTY_DISCARD_TAIL_BYTES };
  const pairs: string[] = [];
  for (const [h5Id, version] of discard) pairs.push(JSON.stringify(h5Id) + ':[' + JSON.stringify(version) + ']');
  const tail = '],"discardData":{' + pairs.join(',') + '},"removeAppIdList":' + JSON.stringify(remove) + RESULT_TAIL;
  return { text: text + tail, bytes: bytes + Buffer.byteLength(tail) };
}

/** Body of every refusal (401, 400, 429 ...), in the envelope's own terms. */
export function errorBody(resultCode: number, message: string): string {
  return JSON.stringify({ resultCode, resultMsg: message, state: 'fail' });
}
