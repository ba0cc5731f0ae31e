import type { ActionDef } from '../../../packages/server/src/core/registry.js';
import type { Prng } from './prng.js';
import { exchange, requestHead, type RawAnswer } from '../../helpers/raw-http.js';
import { formOf, isoNow, percent, sendRequest, signAcs3, signV1, type SignedRequest, type Signer } from '../../helpers/signing.js';

/**
 * Generated malformed requests against the RPC entry. Every draw from the
 * seeded generator happens while the cases are generated, so one seed gives
 * the same inputs; only the time stamp is taken when a case is sent.
 */

/** What a case must get back. */
export type Expect =
  /** a POP error body with a 4xx status */
  | 'pop4xx'
  /** a POP 4xx, or a 200 with the action's result object (ResultCode OK only for reads) */
  | 'answer'
  /** the client dropped the connection: nothing to read, the server must just survive */
  | 'none'
  /** a POP 4xx, or the connection closed (the client half-closed or sent more than the limit) */
  | 'pop4xx-or-closed'
  /** 408 RequestTimeout (POP body) for a body that stalled */
  | 'timeout408';

export interface FuzzCase {
  id: number;
  kind: string;
  /** signed correctly with a live key (whether it authenticates is read from the server's request log) */
  authenticates: boolean;
  /** must never be answered 200: unsigned, forged, stale, replayed or malformed before authentication */
  mustRefuse: boolean;
  action: string | null;
  mutating: boolean;
  expect: Expect;
  /** the hang bound of this case */
  timeoutMs: number;
  /** the start of the request as sent (latin1), for failure messages */
  preview: string;
  run(host: string): Promise<CaseAnswer>;
}

export interface CaseAnswer extends RawAnswer {
  /** the genuine first request of a replay case */
  baseline?: RawAnswer;
}

export interface Principal {
  accessKeyId: string;
  secret: string;
}

export interface FuzzContext {
  actions: ActionDef[];
  host: string;
  own: Principal & { appId: string; workspaceId: string; tenantId: string };
  other: Principal & { appId: string; workspaceId: string; tenantId: string };
  disabled: Principal;
  bodyTimeoutMs: number;
  maxBodyBytes: number;
}

const ANSWER_MS = 15_000;
const COMMON = ['AppId', 'WorkspaceId', 'TenantId'];

/** Values no field of this API accepts as they are, or that probe parsers, queries and templates. */
const HOSTILE = [
  '', ' ', '   ', '\u00a0', '\t', '../../../etc/passwd', '..\\..\\windows\\win.ini', '/etc/passwd', '%2e%2e%2f%2e%2e%2f', '%00', "' OR '1'='1",
  '"; DROP TABLE apps; --', '<script>alert(1)</script>', '${jndi:ldap://127.0.0.1/x}', '{{7*7}}', '__proto__', '{"__proto__":{"polluted":1}}', 'constructor',
  '[object Object]', 'null', 'undefined', 'NaN', '-0', '1e309', '9'.repeat(40), '0x7fffffff', '\u0663\u0664\u0665', '\uff21\uff50\uff50', '\u{1F600}',
  '\u202eevil', '\ufeffbom', 'a\u2028b', 'http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd', 'javascript:alert(1)', '*', '%', '_', '\\', ';',
  ',,,', '\n\n', 'a,b;c', '[{"ruleElement":"city","operation":9}]', '{"a":', '[]', '{}', 'SELECT 1', 'a'.repeat(300), '\u0000', 'x\u0000y',
];
const INT_GARBAGE = [
  'abc', ' ', '1.5', '1e3', '-1', '0', '2147483648', '-2147483649', '9007199254740993', 'NaN', 'Infinity', '-Infinity', ' 7', '7 ', '0x10', '007', 'true',
  'null', '[]', '1,2', '\u0661', '2147483647', '-2147483648', '99999999999999999999', '+5', '5e-1',
];
const BOOL_GARBAGE = ['yes', 'no', '2', 'TRUE', 'null', 'true', 'false', '1', '0', 'on', 'off', ' true'];
/** control characters JavaScript's trim() keeps: a value holding one is never a valid id, name or list entry */
const POISON = [...Array.from({ length: 9 }, (_, i) => String.fromCharCode(i)), ...Array.from({ length: 18 }, (_, i) => String.fromCharCode(0x0e + i)), '\u007f'];
const METHODS = ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'FOO', 'get', 'CONNECT'];
/** node hands CONNECT to the server's 'connect' event; without a listener it just closes the connection */
const CLOSES = new Set(['CONNECT']);
const HEX = '0123456789abcdef';

function randomUnicode(p: Prng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = p.next();
    if (r < 0.5) s += String.fromCharCode(p.int(0x20, 0x7e));
    else if (r < 0.8) s += String.fromCharCode(p.int(0xa0, 0xd7ff));
    else if (r < 0.9) s += String.fromCharCode(p.int(0xe000, 0xfffd));
    else s += String.fromCodePoint(p.int(0x10000, 0x10ffff));
  }
  return s;
}

function poisoned(p: Prng, v: string): string {
  // split on code points, so a surrogate pair is never cut in half
  const cps = v.length > 10_000 ? null : Array.from(v);
  if (!cps) {
    const at = p.int(0, v.length);
    return v.slice(0, at) + p.pick(POISON) + v.slice(at);
  }
  const at = p.int(0, cps.length);
  return cps.slice(0, at).join('') + p.pick(POISON) + cps.slice(at).join('');
}

function stringGarbage(p: Prng, maxLength: number, mutating: boolean): string {
  const r = p.next();
  let v: string;
  if (r < 0.12) v = 'x'.repeat(Math.min(maxLength, 4000) + p.int(1, 64)); // over the declared length (or just long for huge text fields)
  else if (r < 0.6) v = p.pick(HOSTILE);
  else v = randomUnicode(p, p.int(0, 40));
  return mutating ? poisoned(p, v) : v;
}

function valueFor(p: Prng, schema: Record<string, unknown>, mutating: boolean): string {
  if (schema.type === 'integer' || schema.type === 'number') return p.chance(0.85) ? p.pick(INT_GARBAGE) : String(p.int(-1_000_000, 1_000_000));
  if (schema.type === 'boolean') return p.pick(BOOL_GARBAGE);
  return stringGarbage(p, Number(schema.maxLength ?? 1024), mutating);
}

/** Parameters for one signed call: common parameters mostly right, the rest garbage. */
function garbageParams(p: Prng, ctx: FuzzContext, def: ActionDef): Record<string, string> {
  const params: Record<string, string> = {};
  const r = p.next();
  if (r < 0.86) params.AppId = ctx.own.appId;
  else if (r < 0.92) params.AppId = ctx.other.appId;
  else if (r < 0.96) params.AppId = stringGarbage(p, 64, false);
  // else: missing
  const w = p.next();
  if (w < 0.9) params.WorkspaceId = ctx.own.workspaceId;
  else if (w < 0.96) params.WorkspaceId = p.pick(['nope', 'DEFAULT', ' default', stringGarbage(p, 64, false)]);
  const t = p.next();
  if (t < 0.4) params.TenantId = ctx.own.tenantId;
  else if (t < 0.5) params.TenantId = p.pick([ctx.other.tenantId, stringGarbage(p, 64, false)]);
  const fields = Object.keys(def.input).filter((k) => !COMMON.includes(k));
  for (const k of p.subset(fields, 0.6)) params[k] = valueFor(p, def.input[k] as Record<string, unknown>, def.mutates);
  if (p.chance(0.15)) {
    for (let i = p.int(1, 3); i > 0; i--) params[p.pick(['__proto__', 'constructor', 'hasOwnProperty', 'Action', 'Signature', 'Extra', 'x'.repeat(200), randomUnicode(p, 5)])] = stringGarbage(p, 64, false);
  }
  return params;
}

/** A correctly signed request in one of the three styles the vendor clients use. */
function signedRequest(p: Prng, signer: Signer, action: string, params: Record<string, string>, date?: string): SignedRequest {
  const nonce = p.text(32, HEX);
  const bytes = Buffer.byteLength(formOf(Object.entries(params)));
  const r = p.next();
  if (r < 0.6 || bytes > 6000) return r < 0.85 || bytes > 6000 ? signAcs3(signer, action, params, { nonce, date }) : signV1(signer, action, params, 'POST', { nonce, date });
  return signV1(signer, action, params, 'GET', { nonce, date });
}

const readActions = (ctx: FuzzContext) => ctx.actions.filter((a) => !a.mutates);

export function generateCases(p: Prng, ctx: FuzzContext, total: number): FuzzCase[] {
  const own: Signer = { host: ctx.host, accessKeyId: ctx.own.accessKeyId, secret: ctx.own.secret };
  const cases: FuzzCase[] = [];
  let preview = '';
  const add = (c: Omit<FuzzCase, 'id' | 'timeoutMs' | 'preview'> & { timeoutMs?: number }) => {
    cases.push({ timeoutMs: ANSWER_MS, ...c, id: cases.length, preview });
    preview = '';
  };
  const show = (b: Buffer) => (preview = b.subarray(0, 400).toString('latin1'));
  const send = (req: SignedRequest | Pick<SignedRequest, 'method' | 'target' | 'headers' | 'body'>) => {
    show(Buffer.concat([requestHead(req.method, req.target, req.headers), req.body]));
    return (host: string) => sendRequest(host, req, ANSWER_MS);
  };
  const simpleRead = () => ({ AppId: ctx.own.appId, WorkspaceId: ctx.own.workspaceId });

  // Weights per kind; stalls are a fixed handful (each takes the body timeout).
  const plan: Array<[string, number]> = [
    ['signed-garbage', 0.55],
    ['unsigned-random', 0.1],
    ['duplicate-keys', 0.04],
    ['bad-percent-encoding', 0.05],
    ['invalid-utf8-body', 0.03],
    ['raw-bytes-in-url', 0.03],
    ['signed-header-noise', 0.05],
    ['garbage-headers', 0.07],
    ['forged-signature', 0.065],
    ['huge', 0.015],
    ['truncated-body', 0.01],
  ];
  const stalls = Math.max(6, Math.round(total * 0.006));
  const counts = plan.map(([kind, w]) => [kind, Math.max(4, Math.round((total - stalls) * w))] as const);

  for (const [kind, n] of counts) {
    for (let i = 0; i < n; i++) {
      const q = p.fork(`${kind}#${i}`);
      switch (kind) {
        case 'signed-garbage': {
          const def = q.pick(ctx.actions);
          const req = signedRequest(q, own, def.name, garbageParams(q, ctx, def));
          add({ kind, authenticates: true, mustRefuse: false, action: def.name, mutating: def.mutates, expect: 'answer', run: send(req) });
          break;
        }
        case 'unsigned-random': {
          const names = [...new Set(ctx.actions.flatMap((a) => Object.keys(a.input)))];
          const pairs: Array<[string, string]> = [];
          for (let k = q.int(0, 8); k > 0; k--) {
            const r = q.next();
            const key = r < 0.4 ? q.pick(names) : r < 0.75 ? q.pick(['Action', 'Version', 'AccessKeyId', 'Signature', 'SignatureMethod', 'SignatureVersion', 'SignatureNonce', 'Timestamp', 'Format']) : randomUnicode(q, q.int(0, 8));
            const val = key === 'Action' && q.chance(0.5) ? q.pick(ctx.actions).name : key === 'Version' && q.chance(0.5) ? '2020-10-28' : stringGarbage(q, 64, false);
            pairs.push([key, val]);
          }
          const text = formOf(pairs);
          const req = q.chance(0.5)
            ? { method: 'GET' as const, target: '/?' + text, headers: [['host', ctx.host]] as Array<[string, string]>, body: Buffer.alloc(0) }
            : { method: 'POST' as const, target: '/', headers: [['host', ctx.host], ['content-type', 'application/x-www-form-urlencoded'], ['content-length', String(Buffer.byteLength(text))]] as Array<[string, string]>, body: Buffer.from(text) };
          add({ kind, authenticates: false, mustRefuse: true, action: null, mutating: false, expect: 'pop4xx', run: send(req) });
          break;
        }
        case 'duplicate-keys': {
          const def = q.pick(ctx.actions);
          const params: Record<string, string> = { ...simpleRead(), ...garbageParams(q, ctx, def) };
          const key = q.pick([...Object.keys(params), 'Action', 'Version', 'Signature', 'SignatureNonce']);
          const signed = q.chance(0.5) ? signV1(own, def.name, params, 'GET', { nonce: q.text(32, HEX) }) : signAcs3(own, def.name, params, { nonce: q.text(32, HEX) });
          let req: Pick<SignedRequest, 'method' | 'target' | 'headers' | 'body'>;
          const dup = `${percent(key)}=${percent(q.pick(['x', params[key] ?? '', def.name]))}`;
          if (signed.method === 'GET') req = { ...signed, target: signed.target + '&' + dup };
          else if (q.chance(0.5)) req = { ...signed, target: '/?' + dup }; // once in the query, once in the body
          else {
            const body = Buffer.from(signed.body.toString() + '&' + dup);
            req = { ...signed, body, headers: signed.headers.map(([k, v]): [string, string] => [k, k === 'content-length' ? String(body.length) : v]) };
          }
          add({ kind, authenticates: false, mustRefuse: true, action: def.name, mutating: def.mutates, expect: 'pop4xx', run: send(req) });
          break;
        }
        case 'bad-percent-encoding': {
          const bad = q.pick(['%', '%g1', '%1', '%%', '%C3%28', '%ED%A0%80', '%F4%90%80%80', '%C0%AF', '%FF', '%E2%82', '%80', '%F0%9F%98']);
          const signed = signV1(own, q.pick(readActions(ctx)).name, simpleRead(), q.chance(0.7) ? 'GET' : 'POST', { nonce: q.text(32, HEX) });
          let req: Pick<SignedRequest, 'method' | 'target' | 'headers' | 'body'>;
          if (signed.method === 'GET') {
            const parts = signed.target.slice(2).split('&');
            const at = q.int(0, parts.length - 1);
            parts[at] = q.chance(0.5) ? parts[at] + bad : bad + '=' + parts[at];
            req = { ...signed, target: '/?' + parts.join('&') };
          } else {
            const body = Buffer.from(signed.body.toString() + '&Memo=' + bad);
            req = { ...signed, body, headers: signed.headers.map(([k, v]): [string, string] => [k, k === 'content-length' ? String(body.length) : v]) };
          }
          add({ kind, authenticates: false, mustRefuse: true, action: null, mutating: false, expect: 'pop4xx', run: send(req) });
          break;
        }
        case 'invalid-utf8-body': {
          const def = q.pick(ctx.actions);
          const text = formOf(Object.entries({ ...simpleRead(), ...garbageParams(q, ctx, def) }));
          const cut = q.int(0, text.length);
          const raw = Buffer.concat([Buffer.from(text.slice(0, cut)), q.pick([Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]), q.bytes(q.int(1, 16))]), Buffer.from(text.slice(cut))]);
          // signed over the raw bytes: the only thing wrong is the encoding
          const req = signAcs3(own, def.name, {}, { rawBody: raw, nonce: q.text(32, HEX) });
          const valid = (() => {
            try {
              new TextDecoder('utf-8', { fatal: true }).decode(raw);
              return true;
            } catch {
              return false;
            }
          })();
          add({ kind, authenticates: valid, mustRefuse: !valid, action: def.name, mutating: def.mutates, expect: valid ? 'answer' : 'pop4xx', run: send(req) });
          break;
        }
        case 'raw-bytes-in-url': {
          const target = Buffer.concat([Buffer.from('/?Action=QueryMcubeVhost&AppId='), q.bytes(q.int(1, 24)), Buffer.from('&Version=2020-10-28')]);
          const head = requestHead('GET', target, [['host', ctx.host], ['connection', 'close']]);
          show(head);
          add({ kind, authenticates: false, mustRefuse: true, action: null, mutating: false, expect: 'pop4xx', run: (host) => exchange(host, { parts: [{ bytes: head }], timeoutMs: ANSWER_MS }) });
          break;
        }
        case 'signed-header-noise': {
          const def = q.pick(readActions(ctx));
          const signed = signedRequest(q, own, def.name, simpleRead());
          const noise: Array<[string, string]> = [];
          for (let k = q.int(1, 20); k > 0; k--) noise.push([`x-fz-${q.text(q.int(1, 12), 'abcdefghijklmnopqrstuvwxyz0123456789-')}`, q.text(q.int(0, 200), ' !#$%&()*+,-./0123456789:;<=>?@ABCXYZ[]^_`abcxyz{|}~')]);
          if (q.chance(0.3)) noise.push(['user-agent', q.text(2000)]);
          add({ kind, authenticates: true, mustRefuse: false, action: def.name, mutating: false, expect: 'answer', run: send({ ...signed, headers: [...signed.headers, ...noise] }) });
          break;
        }
        case 'garbage-headers': {
          const method = q.chance(0.4) ? q.pick(METHODS) : q.pick(['GET', 'POST']);
          const headers: Array<[string, string | Buffer]> = [['host', q.chance(0.8) ? ctx.host : q.pick(['evil.example', '', '169.254.169.254', q.text(300)])]];
          const authz = q.pick([
            'ACS3-HMAC-SHA256 ' + q.text(40),
            'ACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature=',
            `ACS3-HMAC-SHA256 Credential=${ctx.own.accessKeyId},SignedHeaders=host,Signature=00`,
            `ACS3-HMAC-SHA256 Credential=${ctx.own.accessKeyId},SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=${q.text(64, HEX)}`,
            'Basic ' + Buffer.from('a:b').toString('base64'),
            'Bearer ' + q.text(30),
            'acs3-hmac-sha256 Credential=x',
            'ACS3-' + 'A'.repeat(q.int(100, 8000)),
          ]);
          if (q.chance(0.85)) headers.push(['authorization', q.chance(0.15) ? Buffer.concat([Buffer.from('ACS3-HMAC-SHA256 Credential='), q.bytes(16).map((b) => (b < 0x20 || b === 0x7f ? 0x41 : b))]) : authz]);
          if (q.chance(0.7)) headers.push(['x-acs-action', q.chance(0.5) ? q.pick(ctx.actions).name : q.text(q.int(0, 80))]);
          if (q.chance(0.6)) headers.push(['x-acs-version', q.pick(['2020-10-28', '2019-01-01', '', q.text(20)])]);
          if (q.chance(0.6)) headers.push(['x-acs-date', q.pick([isoNow(), 'yesterday', '2020-10-28T00:00:00Z', '9999-99-99T99:99:99Z', ''])]);
          if (q.chance(0.6)) headers.push(['x-acs-signature-nonce', q.text(q.pick([0, 8, 129, 400]))]);
          if (q.chance(0.6)) headers.push(['x-acs-content-sha256', q.pick([q.text(64, HEX), 'UNSIGNED-PAYLOAD', ''])]);
          let body: Buffer = Buffer.alloc(0);
          if (method !== 'GET' && q.chance(0.7)) body = q.chance(0.5) ? Buffer.from(formOf([['AppId', ctx.own.appId], ['Vhost', stringGarbage(q, 64, false)]])) : q.bytes(q.int(0, 300));
          headers.push(['content-type', q.pick(['application/x-www-form-urlencoded', 'application/json', 'multipart/form-data; boundary=x', 'text/plain', q.text(30)])]);
          let chunked = false;
          if (body.length && q.chance(0.2)) {
            chunked = true;
            headers.push(['transfer-encoding', 'chunked']);
          } else headers.push(['content-length', String(body.length)]);
          headers.push(['connection', 'close']);
          const wire = chunked ? Buffer.concat([Buffer.from(body.length.toString(16) + '\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
          const target = q.chance(0.8) ? '/' : '/?' + formOf([['Action', q.pick(ctx.actions).name], ['Version', '2020-10-28']]);
          const head = requestHead(method, target, headers);
          show(Buffer.concat([head, wire]));
          const expect = CLOSES.has(method) ? 'pop4xx-or-closed' : 'pop4xx';
          add({ kind, authenticates: false, mustRefuse: true, action: null, mutating: false, expect, run: (host) => exchange(host, { parts: [{ bytes: Buffer.concat([head, wire]) }], timeoutMs: ANSWER_MS }) });
          break;
        }
        case 'forged-signature': {
          const def = q.pick(ctx.actions);
          const params = { ...simpleRead(), ...garbageParams(q, ctx, def) };
          const nonce = q.text(32, HEX);
          const variant = q.pick(['wrong-secret', 'unknown-key', 'disabled-key', 'other-tenant-key', 'tampered-body', 'tampered-header', 'stale', 'future', 'replay', 'altered-signature', 'v1-method-swap', 'unsigned-host']);
          const wrong: Signer = { ...own, secret: q.text(30) };
          let req: Pick<SignedRequest, 'method' | 'target' | 'headers' | 'body'>;
          let baseline: SignedRequest | null = null;
          switch (variant) {
            case 'wrong-secret':
              req = q.chance(0.5) ? signAcs3(wrong, def.name, params, { nonce }) : signV1(wrong, def.name, params, 'GET', { nonce });
              break;
            case 'unknown-key':
              req = signAcs3({ ...own, accessKeyId: 'MCAK' + q.text(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') }, def.name, params, { nonce });
              break;
            case 'disabled-key':
              req = signAcs3({ host: ctx.host, ...ctx.disabled }, def.name, params, { nonce });
              break;
            case 'other-tenant-key':
              req = signAcs3({ ...own, accessKeyId: ctx.other.accessKeyId }, def.name, params, { nonce });
              break;
            case 'tampered-body': {
              const s = signAcs3(own, def.name, params, { nonce });
              const body = Buffer.from(s.body.toString().replace(/AppId=[^&]*/, `AppId=${percent(ctx.other.appId)}`) + '&Injected=1');
              req = { ...s, body, headers: s.headers.map(([k, v]): [string, string] => [k, k === 'content-length' ? String(body.length) : v]) };
              break;
            }
            case 'tampered-header': {
              const s = signAcs3(own, 'QueryMcubeVhost', simpleRead(), { nonce });
              const target = q.pick(ctx.actions.filter((a) => a.mutates)).name;
              req = { ...s, headers: s.headers.map(([k, v]): [string, string] => [k, k === 'x-acs-action' ? target : v]) };
              break;
            }
            case 'stale':
              req = q.chance(0.5) ? signAcs3(own, def.name, params, { nonce, date: isoNow(-(16 + q.int(0, 600)) * 60_000) }) : signV1(own, def.name, params, 'GET', { nonce, date: isoNow(-3600_000 * q.int(1, 1000)) });
              break;
            case 'future':
              req = signAcs3(own, def.name, params, { nonce, date: isoNow((16 + q.int(0, 600)) * 60_000) });
              break;
            case 'replay':
              baseline = signAcs3(own, 'QueryMcubeVhost', simpleRead(), { nonce });
              req = baseline;
              break;
            case 'altered-signature': {
              // one hex digit changed, or the signature cut short (an upper-case copy would still be the same MAC)
              const s = signAcs3(own, def.name, params, { nonce });
              const at = q.int(0, 63);
              const cut = q.chance(0.3);
              const alter = (g: string) => (cut ? g.slice(0, at) : g.slice(0, at) + HEX[(HEX.indexOf(g[at]!) + q.int(1, 15)) % 16] + g.slice(at + 1));
              req = { ...s, headers: s.headers.map(([k, v]): [string, string] => [k, k === 'authorization' ? v.replace(/Signature=([0-9a-f]+)$/, (_m, g: string) => `Signature=${alter(g)}`) : v]) };
              break;
            }
            case 'v1-method-swap': {
              const s = signV1(own, def.name, params, 'GET', { nonce });
              const body = Buffer.from(s.target.slice(2));
              req = { method: 'POST', target: '/', headers: [['host', ctx.host], ['content-type', 'application/x-www-form-urlencoded'], ['content-length', String(body.length)]], body };
              break;
            }
            default: {
              // host left out of SignedHeaders: a proxy could then redirect the request
              const s = signAcs3(own, def.name, params, { nonce });
              const drop = (list: string) => list.split(';').filter((h) => h !== 'host').join(';');
              req = { ...s, headers: s.headers.map(([k, v]): [string, string] => [k, k === 'authorization' ? v.replace(/SignedHeaders=([^,]*)/, (_m, g: string) => `SignedHeaders=${drop(g)}`) : v]) };
            }
          }
          show(Buffer.concat([requestHead(req.method, req.target, req.headers), req.body]));
          const b = baseline;
          add({
            kind: `forged-signature/${variant}`,
            authenticates: false,
            mustRefuse: true,
            action: def.name,
            mutating: def.mutates,
            expect: 'pop4xx',
            run: async (host) => {
              if (!b) return sendRequest(host, req, ANSWER_MS);
              const first = await sendRequest(host, b, ANSWER_MS);
              return { ...(await sendRequest(host, b, ANSWER_MS)), baseline: first };
            },
          });
          break;
        }
        case 'huge': {
          const variant = q.pick(['declared-over-limit', 'sent-over-limit', 'huge-text-value', 'huge-short-field']);
          if (variant === 'declared-over-limit') {
            const head = requestHead('POST', '/', [['host', ctx.host], ['content-type', 'application/x-www-form-urlencoded'], ['content-length', String(ctx.maxBodyBytes + q.int(1, 1 << 30))]]);
            show(head);
            add({ kind: `huge/${variant}`, authenticates: false, mustRefuse: true, action: null, mutating: false, expect: 'pop4xx', run: (host) => exchange(host, { parts: [{ bytes: head }], timeoutMs: ANSWER_MS }) });
          } else if (variant === 'sent-over-limit') {
            const params = { ...simpleRead(), Pad: 'p'.repeat(ctx.maxBodyBytes + q.int(1, 64 * 1024)) };
            const req = signAcs3(own, 'CreateMcubeVhost', params, { nonce: q.text(32, HEX) });
            add({ kind: `huge/${variant}`, authenticates: false, mustRefuse: true, action: 'CreateMcubeVhost', mutating: true, expect: 'pop4xx-or-closed', run: send(req) });
          } else {
            const def = variant === 'huge-text-value' ? q.pick(ctx.actions.filter((a) => Object.values(a.input).some((s) => Number((s as { maxLength?: number }).maxLength) >= 1 << 20))) : q.pick(ctx.actions);
            const field = variant === 'huge-text-value'
              ? Object.keys(def.input).find((k) => Number((def.input[k] as { maxLength?: number }).maxLength) >= 1 << 20)!
              : q.pick(Object.keys(def.input).filter((k) => (def.input[k] as { type?: string }).type === 'string'));
            const size = variant === 'huge-text-value' ? q.int(200_000, Math.floor(ctx.maxBodyBytes * 0.8)) : q.int(10_000, 100_000);
            const value = def.mutates ? poisoned(q, 'u'.repeat(size)) : 'u,'.repeat(size / 2);
            const req = signAcs3(own, def.name, { ...simpleRead(), [field]: value }, { nonce: q.text(32, HEX) });
            add({ kind: `huge/${variant}`, authenticates: true, mustRefuse: false, action: def.name, mutating: def.mutates, expect: 'answer', run: send(req) });
          }
          break;
        }
        case 'truncated-body': {
          const declared = q.int(100, ctx.maxBodyBytes);
          const sent = q.int(0, Math.min(declared - 1, 64 * 1024));
          const then = q.pick(['destroy', 'end'] as const);
          const req = signAcs3(own, 'CreateMcubeVhost', { ...simpleRead(), Vhost: 'truncated.example.com' }, { nonce: q.text(32, HEX) });
          const head = requestHead('POST', '/', [...req.headers.filter(([k]) => k !== 'content-length'), ['content-length', String(declared)]]);
          const body = Buffer.concat([req.body, Buffer.alloc(Math.max(0, sent - req.body.length), 0x61)]).subarray(0, sent);
          show(Buffer.concat([head, body]));
          add({
            kind: `truncated-body/${then}`,
            authenticates: false,
            mustRefuse: true,
            action: 'CreateMcubeVhost',
            mutating: true,
            expect: then === 'destroy' ? 'none' : 'pop4xx-or-closed',
            run: (host) => exchange(host, { parts: [{ bytes: head }, { bytes: body, pauseMs: q.int(0, 50) }], then, timeoutMs: ctx.bodyTimeoutMs + ANSWER_MS }),
          });
          break;
        }
      }
    }
  }

  // Boundary probes for every parameter of every action, whatever the draws: ids past 32 bits, the
  // largest int64 the schema allows, NUL, and one character over the declared length.
  for (const def of ctx.actions) {
    for (const [name, schema] of Object.entries(def.input)) {
      if (name === 'AppId' || name === 'WorkspaceId') continue;
      const sch = schema as { type?: string; maxLength?: number };
      const values = sch.type === 'string' ? ['2147483648', '999999999999999', 'a\u0000b', 'x'.repeat(Math.min(Number(sch.maxLength ?? 1024) + 1, 70_000))] : ['2147483648', String(Number.MAX_SAFE_INTEGER), '-2147483649'];
      for (const v of values) {
        const q = p.fork(`probe#${def.name}#${name}#${v.length}`);
        const req = signAcs3(own, def.name, { ...simpleRead(), [name]: v }, { nonce: q.text(32, HEX) });
        add({ kind: 'boundary-probe', authenticates: true, mustRefuse: false, action: def.name, mutating: def.mutates, expect: 'answer', run: send(req) });
      }
    }
  }

  for (let i = 0; i < stalls; i++) {
    const q = p.fork(`stall#${i}`);
    const variant = q.pick(['part-of-body', 'headers-only', 'chunk-never-ends', 'slow-drip']);
    const req = signAcs3(own, 'CreateMcubeVhost', { ...simpleRead(), Vhost: 'stalled.example.com' }, { nonce: q.text(32, HEX) });
    let parts: Array<{ bytes: Buffer; pauseMs?: number }>;
    if (variant === 'chunk-never-ends') {
      const head = requestHead('POST', '/', [...req.headers.filter(([k]) => k !== 'content-length'), ['transfer-encoding', 'chunked']]);
      parts = [{ bytes: head }, { bytes: Buffer.from('400\r\n' + 'a'.repeat(100)) }];
    } else {
      const declared = req.body.length + q.int(1, 10_000);
      const head = requestHead('POST', '/', [...req.headers.filter(([k]) => k !== 'content-length'), ['content-length', String(declared)]]);
      if (variant === 'headers-only') parts = [{ bytes: head }];
      else if (variant === 'part-of-body') parts = [{ bytes: head }, { bytes: req.body.subarray(0, q.int(0, req.body.length)) }];
      // a byte every 200 ms: each arrives in time, the whole body never does
      else parts = [{ bytes: head }, ...Array.from({ length: 40 }, (_, k) => ({ bytes: Buffer.from([req.body[k % req.body.length]!]), pauseMs: 200 }))];
    }
    show(Buffer.concat(parts.map((x) => x.bytes)));
    add({
      kind: `stall/${variant}`,
      authenticates: false,
      mustRefuse: true,
      action: 'CreateMcubeVhost',
      mutating: true,
      expect: 'timeout408',
      timeoutMs: ctx.bodyTimeoutMs + 10_000,
      run: (host) => exchange(host, { parts, then: 'wait', timeoutMs: ctx.bodyTimeoutMs + 10_000 }),
    });
  }
  return cases;
}
