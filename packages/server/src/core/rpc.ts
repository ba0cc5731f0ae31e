import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { API_VERSION, Authenticator, parseCall, type ParsedCall, type Principal } from './auth.js';
import { readBody } from './body.js';
import { BusinessError, isStorageUnavailable, isUnavailable, Pop, PopError } from './errors.js';
import { newRequestId } from './ids.js';
import type { ActionDef, ActionRegistry, Deps } from './registry.js';

interface Compiled {
  def: ActionDef<any>;
  validate: ValidateFunction;
  nonStringProps: Set<string>;
  /** integer fields: a text value must be decimal digits (Ajv would read "0x10" as 16 and "1e1" as 10) */
  integerProps: Set<string>;
  resultProps: Set<string>;
}

/** Scope rows are cached briefly; ownership of an app never changes once created, and nothing deletes one. */
class ScopeCache {
  private readonly cache = new Map<string, { tenantId: string | null; workspace: boolean; at: number }>();
  constructor(private readonly deps: Deps) {}

  /** synchronous on a cache hit (the common case), so the caller awaits only a miss */
  check(p: Principal, params: Record<string, unknown>): { appId: string; workspaceId: string } | Promise<{ appId: string; workspaceId: string }> {
    const tenantId = params.TenantId as string | undefined;
    const appId = params.AppId as string | undefined;
    const workspaceId = params.WorkspaceId as string | undefined;
    if (tenantId && tenantId !== p.tenantId) throw Pop.forbidden(`tenant "${tenantId}"`);
    if (!appId) throw Pop.missing('AppId');
    if (!workspaceId) throw Pop.missing('WorkspaceId');
    const key = `${appId}\u0000${workspaceId}`;
    const hit = this.cache.get(key);
    if (hit && this.deps.now() - hit.at <= 5000) return this.verdict(p, hit, appId, workspaceId);
    return this.load(key, appId, workspaceId).then((row) => this.verdict(p, row, appId, workspaceId));
  }

  private async load(key: string, appId: string, workspaceId: string) {
    const [row] = await this.deps.db.all<{ tenant_id: string; workspace_id: string | null }>(
      'SELECT a.tenant_id, w.workspace_id FROM apps a LEFT JOIN workspaces w ON w.app_id = a.app_id AND w.workspace_id = ? WHERE a.app_id = ?',
      [workspaceId, appId],
    );
    const hit = { tenantId: row?.tenant_id ?? null, workspace: !!row?.workspace_id, at: this.deps.now() };
    // only what exists is kept: an app or workspace provisioned a moment ago (on another node, or by the
    // admin command) must not be refused here for the next seconds
    if (hit.tenantId === null || !hit.workspace) return hit;
    if (this.cache.size > 10000) this.cache.clear();
    this.cache.set(key, hit);
    return hit;
  }

  private verdict(p: Principal, hit: { tenantId: string | null; workspace: boolean }, appId: string, workspaceId: string) {
    if (hit.tenantId !== p.tenantId) throw Pop.forbidden(`app "${appId}"`);
    if (!hit.workspace) throw Pop.invalid('WorkspaceId', `workspace "${workspaceId}" does not exist in app "${appId}"`);
    return { appId, workspaceId };
  }
}

function ajvError(e: ErrorObject): PopError {
  if (e.keyword === 'required') return Pop.missing(String((e.params as { missingProperty: string }).missingProperty));
  const name = e.instancePath.replace(/^\//, '') || 'request';
  return Pop.invalid(name, e.message ?? 'invalid value');
}

/** result_code of an audit row whose call has not finished (or whose outcome could not be recorded) */
export const AUDIT_PENDING = 'Pending';

/** Longest parameter value kept whole in the audit log; a whitelist's KeyIds may be a megabyte. */
const AUDIT_VALUE_MAX = 2048;

const AUDIT_UNDECLARED_MAX = 32;
const AUDIT_UNDECLARED_CHARS = 64;

function auditValue(v: unknown): unknown {
  if (typeof v !== 'string' || v.length <= AUDIT_VALUE_MAX) return v;
  return `${v.slice(0, AUDIT_VALUE_MAX)}… (${v.length} characters in all)`;
}

/** The audit_log row of a management call: its parameters with secrets redacted and long values cut. */
function auditRow(
  call: { requestId: string; principal: Principal; def: ActionDef<any>; params: Record<string, unknown>; now: number },
  httpStatus: number,
  resultCode: string,
) {
  const secret = new Set(call.def.secretParams ?? []);
  const recorded: Record<string, unknown> = {};
  let undeclared = 0;
  for (const [k, v] of Object.entries(call.params)) {
    if (Object.hasOwn(call.def.input, k)) {
      recorded[k] = secret.has(k) ? '[redacted]' : auditValue(v);
      continue;
    }
    // parameters no action reads are taken (vendor clients add some) but bound the row: a call could otherwise
    // leave a megabyte of made-up names and values, kept for as long as the audit log is
    if (++undeclared > AUDIT_UNDECLARED_MAX) continue;
    const name = k.length > AUDIT_UNDECLARED_CHARS ? `${k.slice(0, AUDIT_UNDECLARED_CHARS)}…` : k;
    recorded[name] = typeof v === 'string' && v.length > AUDIT_UNDECLARED_CHARS ? `${v.slice(0, AUDIT_UNDECLARED_CHARS)}… (${v.length} characters in all)` : v;
  }
  if (undeclared > AUDIT_UNDECLARED_MAX) recorded['(undeclared)'] = `${undeclared - AUDIT_UNDECLARED_MAX} more parameters no action reads, not recorded`;
  return {
    request_id: call.requestId,
    tenant_id: call.principal.tenantId,
    access_key_id: call.principal.accessKeyId,
    action: call.def.name,
    params: JSON.stringify(recorded),
    http_status: httpStatus,
    result_code: resultCode,
    created_at: call.now,
  };
}

export interface RpcOptions {
  deps: Deps;
  registry: ActionRegistry;
  hostId: string;
}

/** The RPC endpoint at "/": one lean handler, kept off the generic middleware stack. */
const DECIMAL = /^[+-]?\d+$/;

export function createRpcHandler({ deps, registry, hostId }: RpcOptions) {
  const ajv = new Ajv({ coerceTypes: true, allErrors: false, strict: false, useDefaults: false });
  // integer widths are enforced by minimum/maximum; the format names are documentation
  ajv.addFormat('int32', true).addFormat('int64', true);
  const compiled = new Map<string, Compiled>();
  for (const def of registry.all()) {
    const schema = { type: 'object', properties: def.input, required: def.required, additionalProperties: true };
    const nonString = new Set(Object.entries(def.input).filter(([, s]) => s.type !== 'string').map(([k]) => k));
    const resultProps = new Set(Object.keys(((def.result as { properties?: object }).properties ?? {}) as object));
    const integers = new Set(Object.entries(def.input).filter(([, s]) => s.type === 'integer').map(([k]) => k));
    compiled.set(def.name, { def, validate: ajv.compile(schema), nonStringProps: nonString, integerProps: integers, resultProps });
  }
  const auth = new Authenticator(deps);
  const scopes = new ScopeCache(deps);
  const { log, config } = deps;

  const send = (res: ServerResponse, status: number, body: unknown, requestId: string, extra: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json;charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'x-acs-request-id': requestId,
      ...extra,
    });
    res.end(text);
  };

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newRequestId();
    const t0 = performance.now();
    let call: ParsedCall | undefined;
    let principal: Principal | undefined;
    let status = 200;
    let code = 'OK';
    let entry: Compiled | undefined;
    let params: Record<string, unknown> | undefined;
    let out: { status: number; body: unknown; headers?: Record<string, string> } | undefined;
    /** the audit row written before a management action ran, to be completed with its outcome */
    let auditId: number | null = null;
    try {
      if (req.method !== 'POST' && req.method !== 'GET') throw new PopError(405, 'UnsupportedHTTPMethod', 'Only GET and POST are supported.');
      const raw = await readBody(req, config.http.maxBodyBytes, config.http.bodyTimeoutMs);
      call = parseCall(req, raw);
      if (call.version !== API_VERSION) throw Pop.version(call.version);
      entry = compiled.get(call.action);
      if (!entry) throw Pop.action(call.action);
      principal = await auth.authenticate(call);
      params = { ...call.params };
      // PostgreSQL cannot hold NUL in text: refuse it here for every action, the same on both databases
      for (const [k, v] of Object.entries(params)) if (k.includes('\u0000') || (typeof v === 'string' && v.includes('\u0000'))) throw Pop.invalid(k, 'contains a NUL character');
      // Tenant scope before validation: another tenant's AppId is Forbidden whatever else is wrong with the call.
      const checked = scopes.check(principal, params);
      const scope = checked instanceof Promise ? await checked : checked;
      // a blank number or flag is an absent one (Ajv would read "  " as 0); an integer is written in decimal digits
      for (const k of entry.nonStringProps) {
        const v = params[k];
        if (typeof v !== 'string') continue;
        const t = v.trim();
        if (t === '') delete params[k];
        else if (entry.integerProps.has(k) && !DECIMAL.test(t)) throw Pop.invalid(k, `${JSON.stringify(v.slice(0, 40))} is not an integer`);
      }
      if (!entry.validate(params)) throw ajvError(entry.validate.errors![0]!);
      // Written ahead, before anything changes: a change never exists without its audit row, even when the
      // node dies or the database fails before the outcome is recorded (the row then says Pending). A call
      // whose audit row cannot be written is not run.
      if (entry.def.mutates) {
        const [row] = await deps.db
          .knex('audit_log')
          .insert(auditRow({ requestId, principal, def: entry.def, params, now: deps.now() }, 0, AUDIT_PENDING))
          .returning('id');
        auditId = Number(typeof row === 'object' ? (row as { id: unknown }).id : row);
      }
      let result: Record<string, unknown>;
      try {
        result = await entry.def.handler(params, { requestId, ...principal, ...scope, deps });
        result = { ...result };
        if (result.Success === undefined) result.Success = true;
        if (result.ResultMsg === undefined) result.ResultMsg = '';
        // a string on every answer of an action that has one (reference), empty on success
        if (entry.resultProps.has('ErrorCode') && result.ErrorCode === undefined) result.ErrorCode = '';
        if (entry.resultProps.has('RequestId')) result.RequestId = requestId;
        out = { status: 200, body: { RequestId: requestId, ResultCode: 'OK', ResultMessage: '', [entry.def.resultKey]: result } };
      } catch (err) {
        if (!(err instanceof BusinessError)) throw err;
        code = err.code;
        const r: Record<string, unknown> = { ...err.result, Success: false, ResultMsg: err.message };
        if (entry.resultProps.has('ErrorCode')) r.ErrorCode = err.code;
        if (entry.resultProps.has('RequestId')) r.RequestId = requestId;
        out = { status: 200, body: { RequestId: requestId, ResultCode: err.code, ResultMessage: err.message, [entry.def.resultKey]: r } };
      }
    } catch (err) {
      let pop: PopError;
      if (err instanceof PopError) {
        pop = err;
        principal ??= err.principal;
      } else if ((err as { aborted?: boolean }).aborted) {
        res.destroy();
        return;
      } else if (isUnavailable(err)) {
        log.warn(isStorageUnavailable(err) ? 'storage unavailable' : 'database unavailable', { requestId, action: call?.action, error: String((err as Error)?.message ?? err).slice(0, 500) });
        pop = Pop.unavailable();
      } else {
        log.error('unhandled error', { requestId, action: call?.action, error: String((err as Error)?.stack ?? err).slice(0, 4000) });
        pop = Pop.internal();
      }
      status = pop.status;
      code = pop.code;
      out = {
        status: pop.status,
        body: { RequestId: requestId, HostId: req.headers.host ?? hostId, Code: pop.code, Message: pop.message, Recommend: `docs/errors.md#${pop.code.toLowerCase().replace(/\./g, '')}` },
        headers: { ...pop.headers, ...(pop.status === 408 || pop.status === 413 ? { connection: 'close' } : {}) },
      };
    }
    const latencyMs = Math.round((performance.now() - t0) * 1000) / 1000;
    deps.metrics.rpc(entry ? entry.def.name : '(unknown)', status, code, latencyMs / 1000);
    log.info('rpc', {
      requestId,
      action: call?.action ?? null,
      style: call?.style ?? null,
      tenantId: principal?.tenantId ?? null,
      // the claimed id also when the call is refused: which key is failing is what an operator looks for
      accessKeyId: principal?.accessKeyId ?? call?.accessKeyId ?? null,
      status,
      code,
      latencyMs,
    });
    if (principal && entry?.def.mutates) {
      // the outcome, before the answer leaves; calls refused before they ran get their whole row now
      const write =
        auditId !== null
          ? deps.db.knex('audit_log').where({ id: auditId }).update({ http_status: status, result_code: code })
          : deps.db.knex('audit_log').insert(auditRow({ requestId, principal, def: entry.def, params: params ?? call?.params ?? {}, now: deps.now() }, status, code));
      await write.catch((e: Error) => log.error('audit write failed', { requestId, auditId, error: e.message }));
    }
    if (out && !res.headersSent && !res.destroyed) send(res, out.status, out.body, requestId, out.headers);
  };

  return { handler, auth };
}
