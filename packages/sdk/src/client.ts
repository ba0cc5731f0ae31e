import { tagResponse, assertSuccess } from './business.js';
import type { CallOptions } from './call-options.js';
import { optionsFromEnv, type McubeClientOptions, type RetryEvent } from './client-options.js';
import { McubeError } from './errors.js';
import { ACTIONS, type ActionName, type ActionTypes, type McubeActionMethods } from './generated/actions.js';
import { buildSignedRequest, parseEndpoint, type SignatureAlgorithm } from './request-builder.js';
import { resolveRetry, retryDelay, type RetryOptions } from './retry-policy.js';
import { acsTimestamp, newNonce } from './signer.js';
import { sendOnce, type WireAnswer } from './transport.js';
import { uploadFile, type FileTokenLike, type UploadOptions } from './upload.js';
import type { UploadSource } from './upload-source.js';
import { SDK_VERSION } from './version.js';
import { fromWire, toWire, type ActionSpec } from './wire-mapping.js';

const SPECS = new Map<string, ActionSpec>(ACTIONS.map((a) => [a.name, a]));

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Client of the mPaaS Mcube OpenAPI 2020-10-28, the counterpart of the vendor's
 * Java `DefaultAcsClient`: one method per action (`createMcubeNebulaTask(req)`),
 * camelCase requests and responses, PascalCase on the wire.
 */
export class McubeClient {
  readonly endpoint: URL;
  readonly accessKeyId: string;
  readonly signatureAlgorithm: SignatureAlgorithm;
  // a true private field: console.log(client), JSON.stringify(client) and error reporters never see it
  readonly #accessKeySecret: string;
  private readonly defaults: { appId?: string; workspaceId?: string; tenantId?: string };
  private readonly timeoutMs: number;
  private readonly retry: RetryOptions | false | undefined;
  private readonly throwOnBusinessError: boolean;
  private readonly userAgent: string;
  private readonly onRetry: ((e: RetryEvent) => void) | undefined;
  private readonly uploadTimeoutMs: number | undefined;

  constructor(options: McubeClientOptions = {}) {
    const env = optionsFromEnv(options.env ?? process.env);
    const endpoint = options.endpoint ?? env.endpoint;
    // AccessKeys never hold whitespace: a pasted secret's stray newline would only fail the signature
    const accessKeyId = (options.accessKeyId ?? env.accessKeyId)?.trim();
    const accessKeySecret = (options.accessKeySecret ?? env.accessKeySecret)?.trim();
    if (!endpoint) throw new McubeError({ code: 'MissingEndpoint', message: 'no endpoint: pass options.endpoint or set MCUBE_ENDPOINT' });
    if (!accessKeyId || !accessKeySecret) {
      throw new McubeError({ code: 'MissingCredentials', message: 'no AccessKey: pass accessKeyId/accessKeySecret or set MPAAS_AK_ENV and MPAAS_SK_ENV' });
    }
    this.endpoint = parseEndpoint(endpoint, options.protocol);
    this.accessKeyId = accessKeyId;
    this.#accessKeySecret = accessKeySecret;
    this.signatureAlgorithm = options.signatureAlgorithm ?? 'ACS3-HMAC-SHA256';
    if (this.signatureAlgorithm !== 'ACS3-HMAC-SHA256' && this.signatureAlgorithm !== 'v2') {
      throw new TypeError(`signatureAlgorithm must be "ACS3-HMAC-SHA256" or "v2", got "${String(this.signatureAlgorithm)}"`);
    }
    this.defaults = {
      appId: options.appId ?? env.appId,
      workspaceId: options.workspaceId ?? env.workspaceId,
      tenantId: options.tenantId ?? env.tenantId,
    };
    this.timeoutMs = checkTimeout(options.timeoutMs ?? 30_000);
    this.uploadTimeoutMs = options.timeoutMs;
    this.retry = options.retry;
    this.throwOnBusinessError = options.throwOnBusinessError ?? false;
    this.userAgent = `mcube-sdk/${SDK_VERSION} (Node.js/${process.version}; ${process.platform}; ${process.arch})${options.userAgentSuffix ? ' ' + options.userAgentSuffix : ''}`;
    this.onRetry = options.onRetry;
  }

  /** Calls an action by wire name with a camelCase request; the typed methods go through here. */
  async call<A extends ActionName>(action: A, request: ActionTypes[A]['request'], options: CallOptions = {}): Promise<ActionTypes[A]['response']> {
    const spec = SPECS.get(action);
    if (!spec) throw new TypeError(`unknown action "${action}"`);
    const answer = await this.send(action, toWire(spec, request ?? {}, this.defaults), spec.mutates, options);
    const resp = tagResponse(fromWire(answer.body, spec.verbatim) as object, spec.name, spec.resultKey);
    if (options.throwOnBusinessError ?? this.throwOnBusinessError) assertSuccess(resp);
    return resp as ActionTypes[A]['response'];
  }

  /**
   * Signs and sends any action with wire-named form fields (common parameters
   * filled from the defaults) and returns the answer untouched: status, headers,
   * the PascalCase JSON as `body`, and the request id. Protocol errors throw;
   * business failures are returned.
   */
  async callRaw(action: string, params: Record<string, string>, options: CallOptions = {}): Promise<WireAnswer> {
    const withDefaults: Record<string, string> = { ...params };
    const fill = (wire: string, v: string | undefined) => {
      if (v !== undefined && withDefaults[wire] === undefined) withDefaults[wire] = v;
    };
    fill('AppId', this.defaults.appId);
    fill('WorkspaceId', this.defaults.workspaceId);
    fill('TenantId', this.defaults.tenantId);
    return this.send(action, withDefaults, SPECS.get(action)?.mutates ?? true, options);
  }

  /**
   * `uploadFile` with this client's `retry` and `onRetry`, and its `timeoutMs` (when given) as the longest pause
   * without progress; `opts` overrides them.
   */
  upload(fileToken: FileTokenLike, source: UploadSource, opts: UploadOptions = {}): Promise<string> {
    const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    return uploadFile(fileToken, source, { timeoutMs: this.uploadTimeoutMs, retry: this.retry, onRetry: this.onRetry, ...given });
  }

  private async send(action: string, params: Record<string, string>, mutates: boolean, options: CallOptions): Promise<WireAnswer> {
    const policy = resolveRetry(this.retry, options.retry);
    const timeoutMs = options.timeoutMs === undefined ? this.timeoutMs : checkTimeout(options.timeoutMs);
    for (let attempt = 1; ; attempt++) {
      // every attempt is signed afresh: a new nonce and timestamp, or the server would refuse it as a replay
      const req = buildSignedRequest({
        endpoint: this.endpoint,
        action,
        params,
        accessKeyId: this.accessKeyId,
        accessKeySecret: this.#accessKeySecret,
        algorithm: this.signatureAlgorithm,
        timestamp: acsTimestamp(Date.now()),
        nonce: newNonce(),
        userAgent: this.userAgent,
      });
      try {
        return await sendOnce(req, action, timeoutMs, options.signal);
      } catch (err) {
        const delay = retryDelay(err, attempt, policy, mutates);
        if (delay === null) throw err;
        this.onRetry?.({ action, attempt, delayMs: delay, error: err as Error });
        await sleep(delay, options.signal);
      }
    }
  }
}

// Declaration merging gives the class one typed method per action; the bodies are attached below.
export interface McubeClient extends McubeActionMethods {}

for (const spec of ACTIONS) {
  Object.defineProperty(McubeClient.prototype, spec.method, {
    value: function (this: McubeClient, request: object, options?: CallOptions) {
      return this.call(spec.name as ActionName, request as never, options);
    },
    writable: true,
    configurable: true,
  });
}

/** A timer takes whole milliseconds up to 2^31 - 1; beyond it Node fires after 1 ms, Infinity throws. */
function checkTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > 2_147_483_647) throw new TypeError(`timeoutMs must be a whole number of milliseconds from 1 to 2147483647, got ${String(ms)}`);
  return ms;
}
