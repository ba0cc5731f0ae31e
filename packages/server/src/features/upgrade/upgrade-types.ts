/** Domain shapes of the version-upgrade feature (camelCase; rows live in upgrade-store, wire names in the *-wire files). */
export interface Scope {
  appId: string;
  workspaceId: string;
}

export type UpgradePlatform = 'Android' | 'iOS' | 'Harmony';

/**
 * How a package reaches devices: an uploaded .apk (Android), .hap/.app
 * (Harmony) or enterprise .ipa (iOS), or for iOS a link: App Store or TestFlight.
 */
export type PackageType = 'apk' | 'hap' | 'enterprise' | 'appstore' | 'testflight';

export interface UpgradePackage {
  id: number;
  platform: UpgradePlatform;
  packageType: PackageType;
  appVersion: string;
  /** stored copy of the uploaded file under pkg/ ('' for link-only packages) */
  fileKey: string;
  fileName: string;
  md5: string;
  fileSize: number;
  /** a download link given instead of an upload, stored as given */
  downloadUrl: string;
  appstoreUrl: string;
  iconKey: string;
  largeIconUrl: string;
  symbolKey: string;
  bundleId: string;
  harmonyLabel: string;
  customDomainName: string;
  description: string;
  isEnterprise: number;
  needCheck: number;
  verificationCode: string;
  validDays: number;
  installAmount: number;
  publishPeriod: number;
  creator: string;
  createdAt: number;
  modifiedAt: number;
}

export interface UpgradeTask {
  id: number;
  packageId: number;
  platform: UpgradePlatform;
  publishType: number;
  publishMode: number;
  taskStatus: number;
  upgradeType: number;
  historyForce: number;
  greyEndtime: number | null;
  greyNum: number;
  greyAdmitted: number;
  greyConfigInfo: string;
  whitelistIds: string;
  memo: string;
  upgradeContent: string;
  creator: string;
  createdAt: number;
  modifiedAt: number;
}
