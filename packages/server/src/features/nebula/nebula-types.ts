/** Domain shapes of the offline-package feature (camelCase; rows and wire names live in the store and the actions). */
export interface Scope {
  appId: string;
  workspaceId: string;
}

export interface NebulaApp {
  id: number;
  h5Id: string;
  h5Name: string;
  /** fixed by the app's first package; null until then */
  resourceType: number | null;
  createdAt: number;
}

export interface NebulaResource {
  id: number;
  h5Id: string;
  h5Name: string;
  h5Version: string;
  resourceType: number;
  platform: string;
  clientVersionMin: string;
  clientVersionMax: string;
  mainUrl: string;
  subUrl: string;
  vhost: string;
  customDomainName: string;
  extendInfo: string;
  autoInstall: number;
  installType: number;
  repeatNebula: number;
  amrKey: string;
  jsonKey: string;
  /** folder of the unpacked fallback copy (ends in "/"), null when none was published */
  fallbackKey: string | null;
  /** global packages: h5.json's sample file URL (null: none, or a package from before migration 014) */
  globalPackUrl: string | null;
  /** mini programs: the console's package type as given (UploadMcubeMiniPackage); null for offline packages */
  packageType: number | null;
  /** mini programs: JSON of the fields only the mini actions take (launch flags, icon, uploader); null for offline packages */
  miniInfo: string | null;
  md5: string;
  fileSize: number;
  publishPeriod: number;
  releaseVersion: string;
  createdAt: number;
  modifiedAt: number;
}

export interface NebulaTask {
  id: number;
  resourceId: number;
  h5Id: string;
  publishType: number;
  publishMode: number;
  taskStatus: number;
  taskType: number;
  greyEndtime: number | null;
  greyNum: number;
  greyAdmitted: number;
  greyConfigInfo: string;
  whitelistIds: string;
  percent: number;
  seed: string;
  memo: string;
  platform: string;
  taskVersion: number;
  releaseVersion: string;
  createdAt: number;
  modifiedAt: number;
}
