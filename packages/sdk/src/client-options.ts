import type { SignatureAlgorithm } from './request-builder.js';
import type { RetryOptions } from './retry-policy.js';

export interface RetryEvent {
  action: string;
  /** the attempt that failed, from 1 */
  attempt: number;
  delayMs: number;
  error: Error;
}

export interface McubeClientOptions {
  /** `https://mpaas.example.com`, `http://127.0.0.1:8080`, or bare `host[:port]` (then `protocol` applies). Env: MCUBE_ENDPOINT */
  endpoint?: string;
  /** scheme for a bare host[:port] endpoint (default https) */
  protocol?: 'http' | 'https';
  /** Env: MPAAS_AK_ENV */
  accessKeyId?: string;
  /** Env: MPAAS_SK_ENV */
  accessKeySecret?: string;
  /** defaults for the common parameters when a request leaves them out. Env: MPAAS_APP_ID, MPAAS_WORKSPACE_ID, MPAAS_TENANT_ID */
  appId?: string;
  workspaceId?: string;
  tenantId?: string;
  /** `ACS3-HMAC-SHA256` (default) or `v2` (HMAC-SHA1, signature version 1.0) */
  signatureAlgorithm?: SignatureAlgorithm;
  /** per attempt (default 30 s) */
  timeoutMs?: number;
  /** backoff policy, or false for a single attempt */
  retry?: RetryOptions | false;
  /** throw McubeBusinessError instead of returning a response with ResultCode other than OK / Success false */
  throwOnBusinessError?: boolean;
  /** appended to the User-Agent header */
  userAgentSuffix?: string;
  /** called before each retry (e.g. to log it) */
  onRetry?: (event: RetryEvent) => void;
  /** environment to read the fallbacks from (default process.env) */
  env?: Record<string, string | undefined>;
}

/** The environment variables the SDK and the CLI read, in one place. */
export function optionsFromEnv(env: Record<string, string | undefined>): McubeClientOptions {
  // trimmed: a value pasted into a CI secret often ends with a newline, which would sign with the wrong secret
  const v = (k: string) => {
    const value = env[k]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    endpoint: v('MCUBE_ENDPOINT'),
    accessKeyId: v('MPAAS_AK_ENV'),
    accessKeySecret: v('MPAAS_SK_ENV'),
    appId: v('MPAAS_APP_ID'),
    workspaceId: v('MPAAS_WORKSPACE_ID'),
    tenantId: v('MPAAS_TENANT_ID'),
  };
}
