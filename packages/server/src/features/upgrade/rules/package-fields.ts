import { flag, invalid, isBlank, shown } from '../../nebula/rules/field-error.js';
import { isDottedVersion, versionLimitsHint } from '../../nebula/rules/version.js';
import type { PackageType, UpgradePlatform } from '../upgrade-types.js';

/** Wire input of CreateMcubeUpgradePackage (reference §4.B.1). */
export interface CreatePackageInput {
  AppVersion?: string;
  AppstoreUrl?: string;
  BundleId?: string;
  CustomDomainName?: string;
  Desc?: string;
  DownloadUrl?: string;
  FileUrl?: string;
  HarmonyLabel?: string;
  IconFileUrl?: string;
  InstallAmount?: number;
  IosSymbolfileUrl?: string;
  IsEnterprise?: number;
  LargeIconUrl?: string;
  NeedCheck?: number;
  OnexFlag?: boolean;
  Platform?: string;
  ValidDays?: number;
}

export interface PackageSpec {
  platform: UpgradePlatform;
  packageType: PackageType;
  appVersion: string;
  /** an upload of our store (checked and copied by the service), or null */
  fileUrl: string | null;
  iconFileUrl: string | null;
  symbolFileUrl: string | null;
  /** links, stored as given */
  downloadUrl: string;
  appstoreUrl: string;
  largeIconUrl: string;
  bundleId: string;
  harmonyLabel: string;
  customDomainName: string;
  description: string;
  isEnterprise: 0 | 1;
  needCheck: 0 | 1;
  validDays: number;
  installAmount: number;
}

export const MAX_LINK_LENGTH = 2048;
export const MAX_DESC_LENGTH = 2000;
/** TestFlight builds expire after at most 90 days; a public link takes at most 10,000 testers. */
export const MAX_VALID_DAYS = 90;
export const MAX_INSTALL_AMOUNT = 10_000;

/** The uploaded file each package type takes (extension of the uploaded object's key). */
export const FILE_EXTENSIONS: Record<'apk' | 'hap' | 'enterprise', string[]> = { apk: ['.apk'], enterprise: ['.ipa'], hap: ['.hap', '.app'] };

const PLATFORMS: Record<string, UpgradePlatform> = { android: 'Android', ios: 'iOS', harmony: 'Harmony' };
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/i;
const BUNDLE_ID = /^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$/;

/**
 * A link stored as given (DownloadUrl, AppstoreUrl, LargeIconUrl): an absolute
 * http(s) URL without credentials or control characters, at most 2048
 * characters. It is never fetched. '' when empty.
 */
export function checkLink(field: string, raw: string | undefined): string {
  const v = (raw ?? '').trim();
  if (v === '') return '';
  if (v.length > MAX_LINK_LENGTH) throw invalid(field, `is longer than ${MAX_LINK_LENGTH} characters.`);
  if (/[\s\u0000-\u001f\u007f\\]/.test(v)) throw invalid(field, `${shown(v)} contains white space, a control character or a backslash.`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw invalid(field, `${shown(v)} is not an absolute URL; give an http:// or https:// address.`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(field, `${shown(v)} is not an http:// or https:// address.`);
  if (u.username || u.password) throw invalid(field, `${shown(v)} carries credentials; give a plain address.`);
  return v;
}

function refuse(field: string, given: boolean, what: string): void {
  if (given) throw invalid(field, `applies only to ${what}; leave it empty here.`);
}

function bounded(field: string, raw: string | undefined, max: number): string {
  const v = (raw ?? '').trim();
  if (v.length > max) throw invalid(field, `is longer than ${max} characters.`);
  return v;
}

function inRange(field: string, v: number | undefined, min: number, max: number, what: string): number {
  if (v === undefined) throw invalid(field, `is required for ${what}: ${min} to ${max}.`);
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(field, `${v} is out of range; use ${min} to ${max}.`);
  return v;
}

/**
 * Every field rule of CreateMcubeUpgradePackage that needs neither database nor storage.
 * The package type follows from Platform and the fields given (guide §4.3, §4.4):
 *   Android: an uploaded .apk (FileUrl) or a DownloadUrl;
 *   Harmony: an uploaded .hap/.app (FileUrl) or a DownloadUrl;
 *   iOS, IsEnterprise 1: an uploaded enterprise .ipa (FileUrl) or a DownloadUrl;
 *   iOS, ValidDays/InstallAmount given: TestFlight (AppstoreUrl = the App Store Connect public link);
 *   iOS otherwise: App Store (AppstoreUrl).
 */
export function checkPackageInput(input: CreatePackageInput): PackageSpec {
  const platformRaw = (input.Platform ?? '').trim();
  const platform = PLATFORMS[platformRaw.toLowerCase()];
  if (!platform) throw invalid('Platform', `${platformRaw ? shown(platformRaw) : '(empty)'} is not allowed; use Android, iOS or Harmony.`);
  const appVersion = (input.AppVersion ?? '').trim();
  if (appVersion === '') throw invalid('AppVersion', 'is required: the version of the client in the package, e.g. 9.9.0 (the Product Version of Info.plist on iOS).');
  if (!isDottedVersion(appVersion)) throw invalid('AppVersion', `${shown(appVersion)} is not a dotted numeric version such as 9.9.0 or 9.9.0.1${versionLimitsHint(appVersion)}.`);
  const description = bounded('Desc', input.Desc, MAX_DESC_LENGTH);
  const isEnterprise = flag('IsEnterprise', input.IsEnterprise, 0);
  const needCheck = flag('NeedCheck', input.NeedCheck, 0);
  const fileUrl = isBlank(input.FileUrl) ? null : input.FileUrl!.trim();
  const iconFileUrl = isBlank(input.IconFileUrl) ? null : input.IconFileUrl!.trim();
  const symbolFileUrl = isBlank(input.IosSymbolfileUrl) ? null : input.IosSymbolfileUrl!.trim();
  const downloadUrl = checkLink('DownloadUrl', input.DownloadUrl);
  const appstoreUrl = checkLink('AppstoreUrl', input.AppstoreUrl);
  const largeIconUrl = checkLink('LargeIconUrl', input.LargeIconUrl);
  const customDomainName = bounded('CustomDomainName', input.CustomDomainName, 255);
  if (customDomainName && !HOSTNAME.test(customDomainName)) throw invalid('CustomDomainName', `${shown(customDomainName)} is not a domain name such as download.example.com.`);
  const bundleId = bounded('BundleId', input.BundleId, 255);
  const harmonyLabel = bounded('HarmonyLabel', input.HarmonyLabel, 255);
  // 0 is "not set", as for IsEnterprise and NeedCheck: scripts written for the vendor send every field
  const given = (v: number | undefined) => v !== undefined && v !== 0;
  const testFlightFields = given(input.ValidDays) || given(input.InstallAmount);

  refuse('HarmonyLabel', platform !== 'Harmony' && harmonyLabel !== '', 'Harmony packages (Platform Harmony)');
  refuse('BundleId', platform !== 'iOS' && bundleId !== '', 'iOS packages');
  if (bundleId && !BUNDLE_ID.test(bundleId)) throw invalid('BundleId', `${shown(bundleId)} is not a bundle id such as com.example.app.`);
  refuse('IosSymbolfileUrl', platform !== 'iOS' && symbolFileUrl !== null, 'iOS packages');
  refuse('IsEnterprise', platform !== 'iOS' && isEnterprise === 1, 'iOS packages (enterprise distribution)');

  let packageType: PackageType;
  let validDays = 0;
  let installAmount = 0;
  if (platform === 'iOS' && isEnterprise === 0) {
    packageType = testFlightFields ? 'testflight' : 'appstore';
    const what = testFlightFields ? 'a TestFlight package: the public link of App Store Connect' : 'an App Store package: the address of the app in the App Store';
    // a file or a link to one without IsEnterprise 1 is an enterprise package with the flag forgotten: say that, not "AppstoreUrl is missing"
    if (appstoreUrl === '' && (fileUrl !== null || downloadUrl !== '')) {
      throw invalid('IsEnterprise', `must be 1 for an iOS package given as a file (FileUrl) or a download link (DownloadUrl): enterprise distribution; App Store and TestFlight packages take AppstoreUrl instead.`);
    }
    if (appstoreUrl === '') throw invalid('AppstoreUrl', `is required for ${what}.`);
    refuse('FileUrl', fileUrl !== null, 'downloadable packages (Android, Harmony, iOS enterprise distribution with IsEnterprise 1)');
    refuse('DownloadUrl', downloadUrl !== '', 'downloadable packages (Android, Harmony, iOS enterprise distribution with IsEnterprise 1)');
    refuse('NeedCheck', needCheck === 1, 'downloadable packages (download verification)');
    if (testFlightFields) {
      validDays = inRange('ValidDays', input.ValidDays, 1, MAX_VALID_DAYS, 'a TestFlight package (days the build stays valid, as set in App Store Connect)');
      installAmount = inRange('InstallAmount', input.InstallAmount, 1, MAX_INSTALL_AMOUNT, 'a TestFlight package (tester limit, as set in App Store Connect)');
    }
  } else {
    packageType = platform === 'Android' ? 'apk' : platform === 'Harmony' ? 'hap' : 'enterprise';
    const exts = FILE_EXTENSIONS[packageType].join(' or ');
    refuse('AppstoreUrl', appstoreUrl !== '', 'iOS App Store and TestFlight packages (IsEnterprise 0)');
    refuse('ValidDays', given(input.ValidDays), 'iOS TestFlight packages');
    refuse('InstallAmount', given(input.InstallAmount), 'iOS TestFlight packages');
    if (fileUrl === null && downloadUrl === '') throw invalid('FileUrl', `is required: the uploaded ${exts} file (GetMcubeFileToken), or give its address in DownloadUrl.`);
    if (fileUrl !== null && downloadUrl !== '') throw invalid('DownloadUrl', `give either FileUrl (an uploaded ${exts} file) or DownloadUrl (a link), not both.`);
    // the code guards the QR code's way to our stored copy; it cannot guard a link anyone may open
    refuse('NeedCheck', needCheck === 1 && fileUrl === null, 'packages stored here (FileUrl), not a DownloadUrl link (download verification)');
  }
  return {
    platform, packageType, appVersion, fileUrl, iconFileUrl, symbolFileUrl, downloadUrl, appstoreUrl, largeIconUrl, bundleId, harmonyLabel,
    customDomainName, description, isEnterprise, needCheck, validDays, installAmount,
  };
}
