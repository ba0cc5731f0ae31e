export { buildAmr, forEachPackageFile, type BuildAmrInput, type BuildAmrResult } from './amr-builder.js';
export { certJson, hpmfileJson, manifestXml } from './amr-files.js';
export { PACKAGE_ERROR_CODES, PackageError, type PackageErrorCode, type PackageLimits } from './errors.js';
export { H5_JSON_CONFIG, h5Json, h5JsonEntry, parseExtendInfo, type H5EntryInput } from './h5-json.js';
export { RESOURCE_TYPE_GLOBAL, RESOURCE_TYPE_NORMAL, isDomainFolder } from './layout.js';
export { parseRsaPrivateKey, type ParsedRsaKey } from './rsa-key.js';
export { assertReadableZip } from './zip-reader.js';
export { packageFileContentType } from './content-types.js';
