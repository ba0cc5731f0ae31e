import { McubeBusinessError } from './errors.js';
import { uncapitalize } from './wire-mapping.js';

/** Responses returned by McubeClient remember their action (not enumerable, so JSON output is unchanged). */
const ACTION = Symbol.for('mcube.action');
const RESULT_KEY = Symbol.for('mcube.resultKey');

export function tagResponse<T extends object>(resp: T, action: string, resultKey: string): T {
  Object.defineProperty(resp, ACTION, { value: action, enumerable: false });
  Object.defineProperty(resp, RESULT_KEY, { value: uncapitalize(resultKey), enumerable: false });
  return resp;
}

type Loose = Record<string | symbol, unknown>;
const ENVELOPE = new Set(['requestId', 'resultCode', 'resultMessage']);

function resultOf(resp: Loose): Loose | undefined {
  const key = resp[RESULT_KEY];
  const v = typeof key === 'string' ? resp[key] : Object.entries(resp).find(([k, x]) => !ENVELOPE.has(k) && x && typeof x === 'object')?.[1];
  return v && typeof v === 'object' ? (v as Loose) : undefined;
}

/** The business failure a response carries (ResultCode other than OK, or Success false), or null. */
export function businessFailure(response: object, action?: string): McubeBusinessError | null {
  const resp = response as Loose;
  const result = resultOf(resp);
  const resultCode = typeof resp.resultCode === 'string' ? resp.resultCode : undefined;
  const failed = (resultCode !== undefined && resultCode !== 'OK') || result?.success === false;
  if (!failed) return null;
  const errorCode = typeof result?.errorCode === 'string' && result.errorCode ? result.errorCode : undefined;
  const code = resultCode && resultCode !== 'OK' ? resultCode : (errorCode ?? 'Unsuccessful');
  const message =
    (typeof resp.resultMessage === 'string' && resp.resultMessage) ||
    (typeof result?.resultMsg === 'string' && result.resultMsg) ||
    'the action reported Success: false';
  return new McubeBusinessError({
    code,
    message,
    requestId: typeof resp.requestId === 'string' ? resp.requestId : undefined,
    statusCode: 200,
    data: response,
    action: action ?? (typeof resp[ACTION] === 'string' ? (resp[ACTION] as string) : undefined),
  });
}

/** Throws McubeBusinessError when the response reports a business failure; returns it otherwise. */
export function assertSuccess<T extends object>(response: T, action?: string): T {
  const err = businessFailure(response, action);
  if (err) throw err;
  return response;
}
