export const PACKAGE_ERROR_CODES = [
  'NotAZip',
  'TruncatedZip',
  'ZipSlip',
  'AbsolutePath',
  'LinkEntry',
  'DuplicateEntry',
  'EncryptedEntry',
  'UnsupportedEntry',
  'TooManyEntries',
  'ZipBomb',
  'TooLarge',
  'BadLayout',
  'EmptyPackage',
  'InvalidRsaKey',
  'InvalidExtendInfo',
] as const;

export type PackageErrorCode = (typeof PACKAGE_ERROR_CODES)[number];

/** A refused upload or key; `code` is stable and meant for callers to map to a business error. */
export class PackageError extends Error {
  constructor(
    readonly code: PackageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PackageError';
  }
}

export interface PackageLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxRatio: number;
}
