import type { RetryOptions } from './retry-policy.js';

/** Per-call overrides of the client options. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  retry?: RetryOptions | false;
  throwOnBusinessError?: boolean;
}
