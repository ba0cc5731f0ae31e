import { PackageError } from './errors.js';
import { RESOURCE_TYPE_GLOBAL } from './layout.js';

export interface H5EntryInput {
  h5Id: string;
  h5Name: string;
  version: string;
  packageUrl: string;
  fallbackBaseUrl: string;
  mainUrl: string;
  vhost: string;
  autoInstall: number;
  installType: number;
  /** JSON object text, or '' for the console default `{"launchParams":{}}`. */
  extendInfo: string;
  subUrl: string;
  resourceType: 0 | 1;
  /** Global packages: full URL of one file of the package. */
  globalPackUrl?: string;
  /** Defaults to h5Name, as in console exports. */
  appDesc?: string;
  iconUrl?: string;
}

export const H5_JSON_CONFIG = { updateReqRate: 16400, limitReqRate: 13600, appPoolLimit: 3, versionRefreshRate: 86400 };

/** Parses ExtendInfo; '' gives the console default. Throws InvalidExtendInfo unless it is a JSON object. */
export function parseExtendInfo(text: string): Record<string, unknown> {
  if (text.trim() === '') return { launchParams: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PackageError('InvalidExtendInfo', 'ExtendInfo must be JSON text (an object such as {"launchParams":{}}).');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PackageError('InvalidExtendInfo', 'ExtendInfo must be a JSON object, such as {"launchParams":{}}.');
  }
  return withAppRate(value as Record<string, unknown>);
}

/**
 * The guide's per-package request interval is written {"asyncReqRate":"1800"}, but
 * Nebula reads a package's own rate only from extend_info.launchParams
 * (offline-package-format.md §5.5): a top-level asyncReqRate (or ar) is also put
 * there, unless launchParams already sets one. The top-level key stays as given.
 */
function withAppRate(info: Record<string, unknown>): Record<string, unknown> {
  const rate = info.asyncReqRate ?? info.ar;
  if (rate === undefined) return info;
  const launch = info.launchParams;
  if (launch !== undefined && (launch === null || typeof launch !== 'object' || Array.isArray(launch))) return info;
  const params = (launch ?? {}) as Record<string, unknown>;
  if (params.asyncReqRate !== undefined || params.ar !== undefined) return info;
  return { ...info, launchParams: { ...params, asyncReqRate: rate } };
}

/**
 * One `data[]` object of h5.json / the update answer, keys in the console's
 * (alphabetical) order. `download_type` repeats `auto_install` because the Android
 * parser reads that key while console exports write the other.
 */
export function h5JsonEntry(i: H5EntryInput): Record<string, unknown> {
  const global = i.resourceType === RESOURCE_TYPE_GLOBAL;
  return {
    app_desc: i.appDesc ?? i.h5Name,
    app_id: i.h5Id,
    auto_install: i.autoInstall,
    download_type: i.autoInstall,
    extend_info: parseExtendInfo(i.extendInfo),
    fallback_base_url: global ? '' : i.fallbackBaseUrl,
    global_pack_url: global ? (i.globalPackUrl ?? '') : '',
    icon_url: i.iconUrl ?? '',
    installType: i.installType,
    main_url: global && i.mainUrl === '' ? 'index.htm' : i.mainUrl,
    name: i.h5Name,
    online: 1,
    package_url: i.packageUrl,
    patch: '',
    sub_url: i.subUrl,
    version: i.version,
    vhost: i.vhost,
  };
}

/** The h5.json envelope; `config` entries override or extend the console defaults. */
export function h5Json(entries: Record<string, unknown>[], config: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    config: { ...H5_JSON_CONFIG, ...config },
    data: entries,
    resultCode: 100,
    resultMsg: '操作成功',
    state: 'success',
  };
}
