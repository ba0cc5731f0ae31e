import { defineAction } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { hasRsaKey, uploadRsaKey } from './rsa-key-service.js';
import { invalid, isBlank } from './rules/field-error.js';
import { UPLOAD_ERRORS } from './wire-common.js';

export const existMcubeRsaKey = defineAction({
  name: 'ExistMcubeRsaKey',
  summary: 'Tell whether an RSA key for signing offline packages has been uploaded (Data "success" or "fail").',
  tag: 'Nebula',
  input: { ...commonInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CheckRsaKeyResult',
  result: S.obj({ Data: S.str('"success" when a key exists, "fail" otherwise (then Success is false too, as the vendor answers)'), ...resultBase }),
  mutates: false,
  handler: async (_input, ctx) => ((await hasRsaKey(ctx)) ? { Data: 'success', Success: true } : { Data: 'fail', Success: false }),
});

export const uploadMcubeRsaKey = defineAction<{ FileUrl?: string; OnexFlag?: boolean }>({
  name: 'UploadMcubeRsaKey',
  summary: 'Register the RSA private key (PEM, uploaded beforehand with GetMcubeFileToken) that signs the app\'s offline packages.',
  tag: 'Nebula',
  input: { ...commonInput, FileUrl: S.str('address of the uploaded PEM file', 2048), OnexFlag: S.bool('always true') },
  required: ['AppId', 'WorkspaceId', 'FileUrl'],
  resultKey: 'UploadRsaResult',
  result: S.obj({ Data: S.str('"processed successfully"'), ...resultBase }),
  mutates: true,
  errors: [...UPLOAD_ERRORS, 'InvalidRsaKey'],
  handler: async (input, ctx) => {
    if (isBlank(input.FileUrl)) throw invalid('FileUrl', 'is required: the address of the uploaded PEM key file.');
    await uploadRsaKey(ctx, input.FileUrl!.trim());
    return { Data: 'processed successfully' };
  },
});
