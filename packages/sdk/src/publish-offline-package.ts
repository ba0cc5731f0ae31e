import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { McubeClient } from './client.js';
import { McubeBusinessError, McubeError, McubeNetworkError, McubeServerError } from './errors.js';
import type { CreateMcubeNebulaTaskRequest } from './generated/actions.js';
import { packOfflinePackageToFile } from './pack-offline-package.js';

export type ReleaseSpec =
  | { type: 'official' }
  | { type: 'whitelist'; whitelistIds: Array<string | number> }
  /** `endTime`: a Date or epoch ms (an instant), or "yyyy-MM-dd HH:mm:ss" read in the server's wire zone (MCUBE_WIRE_TIME_ZONE, UTC by default) */
  | { type: 'window'; endTime: Date | number | string; users: number }
  /** mcube extension: a stable `percent` % of users */
  | { type: 'percent'; percent: number };

export type RuleElement = 'city' | 'mobileModel' | 'netType' | 'osVersion' | 'clientVersion';
export type RuleOperation = 'include' | 'exclude' | 'within' | 'outside';

/** An advanced rule of a gray release; ranges (`within`, `outside`, value "aa-bb") apply to osVersion and clientVersion only. */
export interface GrayRule {
  ruleElement: RuleElement;
  operation: RuleOperation | 1 | 2 | 3 | 4;
  value: string | string[];
}

export type PublishStep = 'pack' | 'token' | 'upload' | 'resource' | 'task';

export interface PublishProgress {
  step: PublishStep;
  /** upload step: bytes sent and total */
  sent?: number;
  total?: number;
}

export interface PublishOptions {
  client: McubeClient;
  /** 8-digit H5 app id; the H5 app is created when missing */
  h5Id: string;
  /** H5 app name (used when the app is created; default: the existing app's name, or the id) */
  h5Name?: string;
  /** package version, unique within the H5 app, e.g. 1.0.0.1 */
  version: string;
  /** a .zip laid out as <h5Id>/..., or a folder to pack, or the zip bytes */
  zip: string | Buffer;
  /** all, Android or iOS */
  platform: 'all' | 'Android' | 'iOS';
  /** "ios;android" (";bbb" Android only, "aaa;" iOS only) */
  clientVersionMin: string;
  clientVersionMax?: string;
  /** entry page, e.g. /www/index.html */
  mainUrl: string;
  /** 1 normal package (default), 0 global resource package */
  resourceType?: 0 | 1;
  release: ReleaseSpec;
  /** advanced rules, gray releases only */
  rules?: GrayRule[];
  memo?: string;
  /** JSON text or object, e.g. {"asyncReqRate":"1800"} */
  extendInfo?: string | Record<string, unknown>;
  /** download over 0 Wi-Fi only (default), 1 any network (uses mobile data) */
  autoInstall?: 0 | 1;
  /** 0 install when the page is first opened, 1 preload: install once downloaded (default) */
  installType?: 0 | 1;
  /** required by the server for global resource packages */
  repeatNebula?: 0 | 1;
  vhost?: string;
  /**
   * Refuse to release a package the server built with a warning (unsigned: no
   * RSA key uploaded; or files Nebula's Android client cannot load): the
   * package stays created and unreleased, and the error (code PackageWarning)
   * carries its resourceId. Without it the warnings are in the result.
   */
  strict?: boolean;
  onProgress?: (p: PublishProgress) => void;
}

export interface PublishResult {
  h5Id: string;
  version: string;
  fileUrl: string;
  resourceId: string;
  taskId: string;
  /** what the server said about the built package (e.g. built unsigned) and the new task (a releasing rollback outranks it); empty when nothing */
  warnings: string[];
  requestIds: { token: string; resource: string; task: string };
}

const OPERATIONS: Record<RuleOperation, number> = { include: 1, exclude: 2, within: 3, outside: 4 };

const pad = (n: number) => String(n).padStart(2, '0');

/** GreyEndtimeData: "yyyy-MM-dd HH:mm:ss" as given (the server's wire zone), or an instant as "yyyy-MM-dd HH:mm:ssZ". */
export function formatGreyEndtime(t: Date | number | string): string {
  if (typeof t === 'string' && /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(t.trim())) return t.trim();
  const d = t instanceof Date ? t : new Date(typeof t === 'number' ? t : Date.parse(t));
  if (Number.isNaN(d.getTime())) throw new TypeError(`end time ${String(t)} is neither a date nor "yyyy-MM-dd HH:mm:ss"`);
  // an instant carries its zone ("Z"): the server reads zone-less times in its wire zone (MCUBE_WIRE_TIME_ZONE)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
}

/** GreyConfigInfo: the JSON rule array of the guide. */
export function greyConfigInfo(rules: GrayRule[]): string {
  return JSON.stringify(
    rules.map((r) => ({
      ruleElement: r.ruleElement,
      operation: typeof r.operation === 'number' ? r.operation : OPERATIONS[r.operation],
      value: Array.isArray(r.value) ? r.value.join(',') : r.value,
    })),
  );
}

/** The CreateMcubeNebulaTask fields for a release. */
export function releaseFields(release: ReleaseSpec, rules: GrayRule[] = []): Partial<CreateMcubeNebulaTaskRequest> {
  if (release.type === 'official') {
    if (rules.length) throw new TypeError('advanced rules apply to gray releases only');
    return { publishType: 3 };
  }
  const gray: Partial<CreateMcubeNebulaTaskRequest> = { publishType: 2, ...(rules.length ? { greyConfigInfo: greyConfigInfo(rules) } : {}) };
  switch (release.type) {
    case 'whitelist':
      if (!release.whitelistIds.length) throw new TypeError('a whitelist release needs at least one whitelist id');
      return { ...gray, publishMode: 1, whitelistIds: release.whitelistIds.join(',') };
    case 'window':
      return { ...gray, publishMode: 2, greyEndtimeData: formatGreyEndtime(release.endTime), greyNum: release.users };
    case 'percent':
      return { ...gray, publishMode: 3, percent: release.percent };
    default:
      throw new TypeError(`unknown release type ${(release as { type: string }).type}`);
  }
}

/**
 * Whether a package step that failed this way may have created the package all the same: no answer (a slow build
 * finishing after the client gave up), a 5xx or an answer without the id (both may come after the commit,
 * retry-policy.ts), or the server's "this version exists" (`existsCode`, an earlier run).
 */
export function packageMayStand(err: unknown, existsCode: string): boolean {
  return mayHaveApplied(err) || (err instanceof McubeError && err.code === existsCode);
}

/** A failure after which the server may have done the call all the same: no answer, a 5xx, an answer without the result. */
export function mayHaveApplied(err: unknown): boolean {
  return err instanceof McubeNetworkError || err instanceof McubeServerError || (err instanceof McubeError && err.code === 'InvalidResponse');
}

/**
 * InvalidWhitelistIds when some of these whitelist ids are not the app and workspace's, so that a typo is refused
 * before a big upload and a package that then stays unreleased; null when all are (or the list cannot be read: the
 * server checks again). `action`: the call the ids were for.
 */
export async function unknownWhitelists(client: McubeClient, commaIds: string, action: string): Promise<McubeBusinessError | null> {
  const missing = await missingWhitelists(client, commaIds.split(','));
  if (!missing.length) return null;
  const what = missing.length > 1 ? 'are no whitelists' : 'is no whitelist';
  return new McubeBusinessError({ code: 'InvalidWhitelistIds', message: `WhitelistIds: ${missing.join(', ')} ${what} of this app and workspace; nothing was uploaded`, action });
}

/** Of these whitelist ids, those the app and workspace do not have; [] when the list cannot be read. */
async function missingWhitelists(client: McubeClient, ids: string[]): Promise<string[]> {
  const wanted = new Set(ids.map((i) => i.trim()).filter(Boolean));
  try {
    for (let page = 1; wanted.size && page <= 50; page++) {
      const r = (await client.listMcubeWhitelists({ pageNum: page, pageSize: 200 }, { throwOnBusinessError: true })).listWhitelistResult;
      for (const w of r.whitelists ?? []) wanted.delete(String(w.id));
      if (!r.hasMore) return [...wanted];
    }
    return [];
  } catch {
    return [];
  }
}

/** The id of the package of this H5 app and version, if one exists. */
async function existingResource(o: PublishOptions): Promise<string | undefined> {
  const list = await o.client.listMcubeNebulaResources({ h5Id: o.h5Id, pageSize: 500 }, { throwOnBusinessError: true });
  const hit = (list.listMcubeNebulaResourceResult.nebulaResourceInfo ?? []).find((r) => r.h5Version === o.version);
  return hit?.id === undefined ? undefined : String(hit.id);
}

/**
 * `err` as a McubeError naming the failed step in `step` and its message, and the package that stays when it
 * exists (`how`: how to release it).
 */
export function inStep(
  step: string,
  err: unknown,
  resourceId: string | undefined,
  how = `CreateMcubeNebulaTask, e.g. "mcube nebula release ${resourceId} ... --once" (--once releases only if no such task exists: when no answer came, it may have been created)`,
): McubeError {
  const e =
    err instanceof McubeError
      ? err
      : new McubeError({ code: (err as { code?: string })?.code ?? 'Error', message: (err as Error)?.message ?? String(err), cause: err });
  e.step = step;
  e.message = `${step} step failed: ${e.message}`;
  if (resourceId) {
    e.resourceId = resourceId;
    e.message += ` (package ${resourceId} exists; release it with ${how})`;
  }
  return e;
}

/**
 * Publishes an offline package in one call: upload token, upload, package
 * (CreateMcubeNebulaResource) and release task (CreateMcubeNebulaTask). A
 * failure names its step in `error.step` and in the message; a business
 * failure is a McubeBusinessError with the server's code.
 */
/** The server's rules for MainUrl (guide: a full path inside the package), H5Id and H5Version, checked before a big upload is made for nothing. */
const MAIN_URL = /^\/[\w /]+\.html$/;
export const H5_ID = /^\d{8}$/;
export const MINI_ID = /^\d{16}$/;
/** dotted numbers: up to 8 segments of up to 9 digits */
export const H5_VERSION = /^\d{1,9}(\.\d{1,9}){0,7}$/;

export async function publishOfflinePackage(o: PublishOptions): Promise<PublishResult> {
  const release = releaseFields(o.release, o.rules);
  const early = (code: string, message: string) => inStep('pack', new McubeBusinessError({ code, message: `${message}; nothing was uploaded`, action: 'CreateMcubeNebulaResource' }), undefined);
  if (!H5_ID.test(o.h5Id.trim())) throw early('InvalidH5Id', `H5Id "${o.h5Id}" must be exactly 8 digits`);
  if (!H5_VERSION.test(o.version.trim())) throw early('InvalidH5Version', `H5Version "${o.version}" is not a dotted numeric version such as 1.0.0.1 (at most 8 segments of at most 9 digits)`);
  const unknown = release.whitelistIds ? await unknownWhitelists(o.client, release.whitelistIds, 'CreateMcubeNebulaResource') : null;
  if (unknown) throw inStep('pack', unknown, undefined);
  if (o.mainUrl !== '' && !MAIN_URL.test(o.mainUrl.trim())) {
    throw early('InvalidMainUrl', `MainUrl "${o.mainUrl}" must be a full path inside the package such as /www/index.html (^/[\\w /]+\\.html$)`);
  }
  const call = { throwOnBusinessError: true };
  let step: PublishStep = 'pack';
  let tmp: string | undefined;
  let created: string | undefined;
  try {
    let source: string | Buffer = o.zip;
    let filename = `${o.h5Id}_${o.version}.zip`;
    if (typeof o.zip === 'string') {
      if ((await stat(o.zip)).isDirectory()) {
        o.onProgress?.({ step });
        tmp = await mkdtemp(join(tmpdir(), 'mcube-pack-'));
        source = join(tmp, filename);
        await packOfflinePackageToFile(o.zip, source, { h5Id: o.h5Id, mainUrl: o.mainUrl });
      } else {
        filename = basename(o.zip);
      }
    }

    step = 'token';
    o.onProgress?.({ step });
    const token = await o.client.getMcubeFileToken({ onexFlag: true }, call);

    step = 'upload';
    o.onProgress?.({ step });
    const fileUrl = await o.client.upload(token.getFileTokenResult.fileToken ?? {}, source, {
      filename,
      contentType: 'application/zip',
      onProgress: (sent, total) => o.onProgress?.({ step: 'upload', sent, total }),
    });

    step = 'resource';
    o.onProgress?.({ step });
    const resource = await o.client.createMcubeNebulaResource(
      {
        h5Id: o.h5Id,
        h5Name: o.h5Name,
        h5Version: o.version,
        fileUrl,
        platform: o.platform,
        clientVersionMin: o.clientVersionMin,
        clientVersionMax: o.clientVersionMax,
        mainUrl: o.mainUrl,
        resourceType: o.resourceType ?? 1,
        extendInfo: typeof o.extendInfo === 'object' ? JSON.stringify(o.extendInfo) : o.extendInfo,
        autoInstall: o.autoInstall ?? 0,
        installType: o.installType ?? 1,
        repeatNebula: o.repeatNebula,
        vhost: o.vhost,
        onexFlag: true,
      },
      call,
    );
    const resourceId = resource.createMcubeNebulaResourceReslult.nebulaResourceId;
    if (!resourceId) throw new McubeError({ code: 'InvalidResponse', message: 'CreateMcubeNebulaResource answered no NebulaResourceId', requestId: resource.requestId });
    created = resourceId;
    const note = resource.createMcubeNebulaResourceReslult.resultMsg;
    const warnings = note ? [note] : [];
    if (o.strict && warnings.length) {
      throw new McubeBusinessError({ code: 'PackageWarning', message: `${warnings.join(' ')} Not released (strict); fix it and publish a new version`, requestId: resource.requestId });
    }

    step = 'task';
    o.onProgress?.({ step });
    const task = await o.client.createMcubeNebulaTask({ id: 0, packageId: Number(resourceId), bizType: 'nebula', memo: o.memo, ...release }, call);
    const taskId = task.createMcubeNebulaTaskResult.nebulaTaskId;
    if (!taskId) throw new McubeError({ code: 'InvalidResponse', message: 'CreateMcubeNebulaTask answered no NebulaTaskId', requestId: task.requestId });
    // what the server says of the new task (a releasing rollback that outranks it)
    if (task.createMcubeNebulaTaskResult.resultMsg) warnings.push(task.createMcubeNebulaTaskResult.resultMsg);

    return {
      h5Id: o.h5Id,
      version: o.version,
      fileUrl,
      resourceId,
      taskId,
      warnings,
      requestIds: { token: token.requestId, resource: resource.requestId, task: task.requestId },
    };
  } catch (err) {
    // no answer, or "this version exists": the package may stand all the same (a slow build that finished
    // after the client gave up, or an earlier run); its id lets the pipeline release it instead of starting over
    // a 5xx (or an answer without the id) may also come after the package was committed (retry-policy.ts)
    if (step === 'resource' && !created && packageMayStand(err, 'H5VersionExists')) {
      created = await existingResource(o).catch(() => undefined);
    }
    throw inStep(step, err, created);
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}
