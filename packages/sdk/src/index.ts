export { McubeClient } from './client.js';
export type { McubeClientOptions, RetryEvent } from './client-options.js';
export type { CallOptions } from './call-options.js';
export type { RetryOptions } from './retry-policy.js';
export {
  McubeError,
  McubeClientError,
  McubeServerError,
  McubeThrottlingError,
  McubeNetworkError,
  McubeUploadError,
  McubeBusinessError,
  type McubeErrorInit,
} from './errors.js';
export { assertSuccess, businessFailure } from './business.js';
export { ACTIONS } from './generated/actions.js';
export type * from './generated/actions.js';
export type { ActionSpec, Camel, RequestOf, ResponseOf } from './wire-mapping.js';
export { API_VERSION, buildSignedRequest, parseEndpoint, type SignatureAlgorithm, type SignedRequest } from './request-builder.js';
export { signAcs3, signRpc, percentEncode, formEncode, sha256Hex, acsTimestamp, type Acs3Signed, type Acs3SignInput, type RpcSigned } from './signer.js';
export { SDK_VERSION } from './version.js';
export { uploadFile, type FileTokenLike, type UploadOptions } from './upload.js';
export type { UploadSource } from './upload-source.js';
export {
  publishOfflinePackage,
  releaseFields,
  greyConfigInfo,
  formatGreyEndtime,
  type PublishOptions,
  type PublishResult,
  type PublishProgress,
  type PublishStep,
  type ReleaseSpec,
  type GrayRule,
  type RuleElement,
  type RuleOperation,
} from './publish-offline-package.js';
export {
  packOfflinePackage,
  packOfflinePackageToFile,
  packOfflinePackageToBuffer,
  PackError,
  type PackOptions,
  type PackResult,
} from './pack-offline-package.js';
export { ZipWriter, type ZipSink } from './zip-writer.js';
