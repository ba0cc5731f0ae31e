import { McubeBusinessError, McubeError, McubeNetworkError } from '../errors.js';
import { UsageError } from './usage-error.js';

/** Exit codes of the mcube command (documented in the README). */
export const EXIT = { ok: 0, failure: 1, usage: 2, protocol: 3, business: 4, network: 5 } as const;

const CONFIG_CODES = new Set(['MissingEndpoint', 'MissingCredentials']);

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof McubeBusinessError) return EXIT.business;
  if (err instanceof McubeNetworkError) return err.code === 'InvalidResponse' ? EXIT.protocol : EXIT.network;
  if (err instanceof McubeError) {
    if (CONFIG_CODES.has(err.code)) return EXIT.usage;
    if (err.code === 'InvalidPackage' || err.statusCode === undefined) return EXIT.failure;
    return EXIT.protocol;
  }
  return EXIT.failure;
}

/** `error: <Code>: <message> (RequestId ...)` */
export function errorLine(err: unknown): string {
  if (err instanceof McubeError) {
    const rid = err.requestId ? ` (RequestId ${err.requestId})` : '';
    return `error: ${err.code}: ${err.message}${rid}`;
  }
  const e = err as { code?: unknown; message?: string };
  const message = e?.message ?? String(err);
  // node's file errors carry their code in the message already ("ENOENT: no such file or directory, open ...")
  const code = typeof e?.code === 'string' && !message.startsWith(`${e.code}:`) ? `${e.code}: ` : '';
  return `error: ${code}${message}`;
}

/** The error as JSON for --json (stdout stays machine-readable on failure too). */
export function errorJson(err: unknown): Record<string, unknown> {
  if (err instanceof McubeError) {
    return {
      error: { type: err.name, code: err.code, message: err.message, requestId: err.requestId, statusCode: err.statusCode, action: err.action, step: err.step, ...(err.resourceId ? { resourceId: err.resourceId } : {}) },
    };
  }
  const e = err as { code?: unknown; message?: string; name?: string };
  return { error: { type: e?.name ?? 'Error', code: typeof e?.code === 'string' ? e.code : undefined, message: e?.message ?? String(err) } };
}
