import { checkClientVersions, checkPlatform, type Platform } from './client-version.js';
import { flag, invalid, isBlank, shown } from './field-error.js';
import type { Kind } from '../kinds.js';
import { checkH5Id, checkMiniId } from './h5-id.js';
import { isDottedVersion, versionLimitsHint } from './version.js';

/** Wire input of CreateMcubeNebulaResource (after ajv coercion). */
export interface CreateResourceInput {
  H5Id?: string;
  H5Name?: string;
  H5Version?: string;
  ResourceType?: number;
  Platform?: string;
  ClientVersionMin?: string;
  ClientVersionMax?: string;
  FileUrl?: string;
  MainUrl?: string;
  SubUrl?: string;
  Vhost?: string;
  CustomDomainName?: string;
  ExtendInfo?: string;
  AutoInstall?: number;
  InstallType?: number;
  RepeatNebula?: number;
  OnexFlag?: boolean;
}

export interface ResourceSpec {
  h5Id: string;
  /** '' when not given (the H5 app's name, or the id for a new app, is used) */
  h5Name: string;
  h5Version: string;
  /** 0 global resource package, 1 normal package */
  resourceType: 0 | 1;
  platform: Platform;
  clientVersionMin: string;
  clientVersionMax: string;
  fileUrl: string;
  /** the request field fileUrl came in: FileUrl, or ResourceFileUrl for a mini program package */
  fileField: string;
  mainUrl: string;
  subUrl: string;
  /** '' when not given: the configured vhost (QueryMcubeVhost) applies */
  vhost: string;
  customDomainName: string;
  extendInfo: string;
  autoInstall: 0 | 1;
  installType: 0 | 1;
  repeatNebula: 0 | 1;
  warning: string | null;
  /** mini program packages (UploadMcubeMiniPackage) only */
  mini?: { packageType: number; info: string };
}

/**
 * The guide gives the main URL pattern as `^/[\w /]+\\.html\$`: the doubled
 * backslash is a Java string-literal escape and `\$` a Markdown one, so the
 * regular expression meant is ^/[\w /]+\.html$ — a slash, then word
 * characters, spaces or slashes, ending in ".html".
 */
export const MAIN_URL = /^\/[\w /]+\.html$/;
/** a mini program's entry may name its first page after "#" (e.g. /index.html#pages/index/index) */
const MINI_MAIN_URL = /^\/[\w /]+\.html(#[\w./-]+)?$/;

const VHOST = /^(https?:\/\/)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+(:\d{1,5})?$/;

export function checkH5Version(raw: string | undefined): string {
  if (isBlank(raw)) throw invalid('H5Version', 'is required, a dotted numeric version such as 1.0.0.1.');
  const v = raw!.trim();
  if (!isDottedVersion(v)) throw invalid('H5Version', `${shown(raw)} is not a dotted numeric version such as 1.0.0.1${versionLimitsHint(v)}.`);
  return v;
}

export function checkResourceType(v: number | undefined): 0 | 1 {
  if (v === undefined) throw invalid('ResourceType', 'is required: 0 for a global resource package, 1 for a normal package.');
  if (v !== 0 && v !== 1) throw invalid('ResourceType', `${v} is not allowed; use 0 (global resource package) or 1 (normal package).`);
  return v;
}

/**
 * Empty, or a JSON object. Its request interval, `asyncReqRate` or the short `ar`
 * (also inside `launchParams`, where clients read it), is 0..86400 seconds, and
 * `launchParams`, the start parameters clients merge, is an object.
 */
export function checkExtendInfo(raw: string | undefined): string {
  const text = (raw ?? '').trim();
  if (text === '') return '';
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw invalid('ExtendInfo', 'is not valid JSON; give a JSON object such as {"asyncReqRate":"1800"}.');
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw invalid('ExtendInfo', 'must be a JSON object such as {"asyncReqRate":"1800"}.');
  const o = obj as Record<string, unknown>;
  if (o.launchParams !== undefined && (!o.launchParams || typeof o.launchParams !== 'object' || Array.isArray(o.launchParams))) {
    throw invalid('ExtendInfo', `launchParams ${shown(o.launchParams)} must be a JSON object such as {"asyncReqRate":"1800"}.`);
  }
  const lp = (o.launchParams ?? {}) as Record<string, unknown>;
  const rates = [
    ['asyncReqRate', o.asyncReqRate],
    ['ar', o.ar],
    ['launchParams.asyncReqRate', lp.asyncReqRate],
    ['launchParams.ar', lp.ar],
  ] as const;
  for (const [where, rate] of rates) {
    if (rate === undefined) continue;
    const n = typeof rate === 'number' ? rate : typeof rate === 'string' && /^\d{1,5}$/.test(rate.trim()) ? Number(rate) : NaN;
    if (!Number.isInteger(n) || n < 0 || n > 86400) {
      throw invalid('ExtendInfo', `${where} ${shown(rate)} must be a whole number of seconds from 0 to 86400.`);
    }
  }
  return text;
}

function checkMainUrl(raw: string | undefined, kind: Kind): string {
  const v = (raw ?? '').trim();
  if (v === '') return '';
  if (kind === 'mini') {
    if (v.length <= 512 && MINI_MAIN_URL.test(v)) return v;
    throw invalid('MainUrl', `${shown(raw)} must match ^/[\\w /]+\\.html(#[\\w./-]+)?$, a page of the package such as /index.html, optionally with its first page after "#" (/index.html#pages/index/index).`);
  }
  if (v.length > 512 || !MAIN_URL.test(v)) {
    throw invalid('MainUrl', `${shown(raw)} must match ^/[\\w /]+\\.html$, a full path inside the package such as /www/index.html.`);
  }
  return v;
}

function checkVhost(raw: string | undefined): string {
  const v = (raw ?? '').trim();
  if (v !== '' && !VHOST.test(v)) throw invalid('Vhost', `${shown(raw)} is not a domain name such as h5app.com.`);
  return v;
}

/** Every field rule of CreateMcubeNebulaResource (and of UploadMcubeMiniPackage, `kind` mini) that needs no database. */
export function checkResourceInput(input: CreateResourceInput, kind: Kind = 'nebula', fileField = 'FileUrl'): ResourceSpec {
  const { h5Id, warning } = kind === 'mini' ? checkMiniId(input.H5Id) : checkH5Id(input.H5Id);
  const h5Name = (input.H5Name ?? '').trim();
  if (h5Name.length > 200) throw invalid('H5Name', 'is longer than 200 characters.');
  const h5Version = checkH5Version(input.H5Version);
  const resourceType = checkResourceType(input.ResourceType);
  const platform = checkPlatform(input.Platform);
  const { min, max } = checkClientVersions(platform, input.ClientVersionMin, input.ClientVersionMax);
  if (isBlank(input.FileUrl)) throw invalid(fileField, 'is required: the address of the uploaded .zip (see GetMcubeFileToken).');
  const autoInstall = flag('AutoInstall', input.AutoInstall, null);
  const installType = flag('InstallType', input.InstallType, null);
  const repeatNebula =
    resourceType === 0
      ? (() => {
          if (input.RepeatNebula === undefined) throw invalid('RepeatNebula', 'is required for a global resource package (0 or 1).');
          return flag('RepeatNebula', input.RepeatNebula, null);
        })()
      : flag('RepeatNebula', input.RepeatNebula, 0);
  const subUrl = (input.SubUrl ?? '').trim();
  if (subUrl.length > 1024) throw invalid('SubUrl', 'is longer than 1024 characters.');
  const customDomainName = (input.CustomDomainName ?? '').trim();
  if (customDomainName.length > 255) throw invalid('CustomDomainName', 'is longer than 255 characters.');
  return {
    h5Id,
    h5Name,
    h5Version,
    resourceType,
    platform,
    clientVersionMin: min,
    clientVersionMax: max,
    fileUrl: input.FileUrl!.trim(),
    fileField,
    mainUrl: checkMainUrl(input.MainUrl, kind),
    subUrl,
    vhost: checkVhost(input.Vhost),
    customDomainName,
    extendInfo: checkExtendInfo(input.ExtendInfo),
    autoInstall,
    installType,
    repeatNebula,
    warning,
  };
}
