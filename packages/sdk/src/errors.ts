export interface McubeErrorInit {
  code: string;
  message: string;
  requestId?: string;
  statusCode?: number;
  data?: unknown;
  action?: string;
  cause?: unknown;
}

/**
 * Base of every error the SDK throws. publishOfflinePackage sets `step` to the
 * step that failed, and `resourceId` once the package exists (a failed task
 * step leaves it created: release it with CreateMcubeNebulaTask rather than
 * publishing the version again, which the server refuses as H5VersionExists).
 */
export class McubeError extends Error {
  readonly code: string;
  readonly requestId: string | undefined;
  readonly statusCode: number | undefined;
  readonly data: unknown;
  readonly action: string | undefined;
  step: string | undefined;
  resourceId: string | undefined;

  constructor(init: McubeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.requestId = init.requestId;
    this.statusCode = init.statusCode;
    this.data = init.data;
    this.action = init.action;
    this.step = undefined;
    this.resourceId = undefined;
  }
}

/** The server refused the call (HTTP 4xx POP error: signature, parameters, access...). */
export class McubeClientError extends McubeError {}

/** The server failed (HTTP 5xx POP error). */
export class McubeServerError extends McubeError {}

/** Flow control refused the call; `retryAfter` is in seconds (from `x-acs-retry-after`). */
export class McubeThrottlingError extends McubeError {
  readonly retryAfter: number;
  constructor(init: McubeErrorInit & { retryAfter: number }) {
    super(init);
    this.retryAfter = init.retryAfter;
  }
}

/** No usable HTTP answer: connection refused or reset, DNS failure, timeout, or a body that is not JSON. */
export class McubeNetworkError extends McubeError {}

/** The storage host refused an upload (its XML or JSON error code in `code`). */
export class McubeUploadError extends McubeError {}

/** A business failure: HTTP 200 with `ResultCode` other than OK, or `Success: false` in the result object. */
export class McubeBusinessError extends McubeError {}
