import { randomUUID } from 'node:crypto';
import { defineAction, type ActionDef } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { uploadPrefix } from './resolve-upload.js';

const fileToken = S.obj({
  Accessid: S.str('access key id the policy is signed with (vendor spelling)'),
  Dir: S.str('key prefix the upload must use; the object key is Dir + file name'),
  Expire: S.str('expiry of the policy, epoch seconds'),
  Host: S.str('URL the multipart form is POSTed to; Host + "/" + key is the uploaded object\'s FileUrl', 2048),
  Policy: S.str('base64 SigV4 POST policy (the local store also takes it as the OSS form field "policy", with OSSAccessKeyId = Accessid and Signature)', 8192),
  Signature: S.str('hex SigV4 signature of Policy, sent as issued'),
  FormFields: {
    type: 'object',
    description:
      'every form field to send, in this order, before the file part (named "file"); key is Dir + "${filename}": the store replaces ${filename} with the file part\'s file name, or the client replaces it itself',
    additionalProperties: { type: 'string' },
  },
});

export const getMcubeFileToken = defineAction<{ OnexFlag?: boolean }>({
  name: 'GetMcubeFileToken',
  summary: 'Get a short-lived browser POST policy for uploading a file that later calls reference by FileUrl.',
  tag: 'Storage',
  input: { ...commonInput, OnexFlag: S.bool('vendor clients always send true; accepted and ignored') },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'GetFileTokenResult',
  result: S.obj({ FileToken: fileToken, ...resultBase }),
  mutates: false,
  handler: async (_input, ctx) => {
    const { storage } = ctx.deps.config;
    const token = await ctx.deps.blobs.createUploadToken({
      dir: `${uploadPrefix(ctx)}${randomUUID()}/`,
      maxBytes: storage.uploadMaxBytes,
      expiresInSec: storage.uploadTokenTtlSec,
    });
    return {
      FileToken: {
        Accessid: token.accessId,
        Dir: token.dir,
        Expire: String(token.expire),
        Host: token.url,
        Policy: token.policy,
        Signature: token.signature,
        FormFields: token.fields,
      },
    };
  },
});

export const storageActions: ActionDef<any>[] = [getMcubeFileToken];
