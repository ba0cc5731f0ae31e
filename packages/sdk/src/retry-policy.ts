import { McubeError, McubeNetworkError, McubeServerError, McubeThrottlingError, McubeUploadError } from './errors.js';

export interface RetryOptions {
  /** attempts in all, the first included (default 3; 1 disables retries) */
  maxAttempts?: number;
  /** first backoff step (default 300 ms); doubles per attempt, with jitter */
  baseDelayMs?: number;
  /** cap of one backoff step (default 10 s) */
  maxDelayMs?: number;
  /** a throttled call whose x-acs-retry-after asks for longer than this is not retried (default 30 s) */
  maxRetryAfterMs?: number;
}

export type ResolvedRetry = Required<RetryOptions>;

export const DEFAULT_RETRY: ResolvedRetry = { maxAttempts: 3, baseDelayMs: 300, maxDelayMs: 10_000, maxRetryAfterMs: 30_000 };

export function resolveRetry(...layers: Array<RetryOptions | false | undefined>): ResolvedRetry {
  let out = { ...DEFAULT_RETRY };
  for (const l of layers) {
    if (l === false) out = { ...out, maxAttempts: 1 };
    else if (l) out = { ...out, ...Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined)) };
  }
  return out;
}

/** Failures that happen before the request reaches the server: safe to repeat even for mutating actions. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Milliseconds to wait before the next attempt, or null to give up. `attempt` counts from 1.
 * A call that changes state is repeated only when the server cannot have applied it:
 * throttled, or the connection was never made. Never after a 5xx: a balancer answers
 * 502/503 when a node closed or reset the connection, which may be after it committed,
 * and each attempt is signed afresh, so the nonce check would not stop the repeat.
 */
export function retryDelay(err: unknown, attempt: number, policy: ResolvedRetry, mutates: boolean, random = Math.random): number | null {
  if (attempt >= policy.maxAttempts || !(err instanceof McubeError)) return null;
  const backoff = () => backoffMs(attempt, policy, random);
  if (err instanceof McubeThrottlingError) {
    const ms = err.retryAfter * 1000;
    return ms > policy.maxRetryAfterMs ? null : ms + Math.round(random() * Math.min(250, policy.baseDelayMs));
  }
  if (err.statusCode === 429) return backoff();
  if (err instanceof McubeServerError) {
    const s = err.statusCode ?? 500;
    return !mutates && (s === 500 || s === 502 || s === 503 || s === 504) ? backoff() : null;
  }
  if (err instanceof McubeNetworkError) {
    // a wrong endpoint, not a passing failure: another try says the same, after a wait
    if (err.code === 'InvalidResponse' || err.code === 'PlainHttpServer' || err.code === 'BlockedPort') return null;
    return CONNECT_CODES.has(err.code) || !mutates ? backoff() : null;
  }
  return null;
}

function backoffMs(attempt: number, policy: ResolvedRetry, random: () => number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * Uploads: posting the same bytes to the same key again only stores the object again, so unlike a call,
 * an upload is repeated after a timeout, a reset connection or a 5xx / 429 from the store. A refusal
 * (4xx: policy, size) and a source that changed while it was read are final.
 */
export function uploadRetryDelay(err: unknown, attempt: number, policy: ResolvedRetry, random = Math.random): number | null {
  if (attempt >= policy.maxAttempts) return null;
  if (err instanceof McubeUploadError) {
    const s = err.statusCode ?? 0;
    return s === 429 || s === 500 || s === 502 || s === 503 || s === 504 ? backoffMs(attempt, policy, random) : null;
  }
  return err instanceof McubeNetworkError ? backoffMs(attempt, policy, random) : null;
}
