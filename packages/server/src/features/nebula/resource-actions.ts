import { pageOutput, pageResult, paging } from '../../core/paging.js';
import { BusinessError } from '../../core/errors.js';
import { defineAction } from '../../core/registry.js';
import { S, commonInput } from '../../core/schema.js';
import { PACKAGE_ERROR_CODES } from '../packages/index.js';
import { getResourceOfKind, listResources } from './nebula-store.js';
import { createResource, MAX_GLOBAL_URL } from './resource-service.js';
import { resourceInfoSchema, toResourceInfo } from './resource-wire.js';
import { invalid, shown } from './rules/field-error.js';
import { checkResourceInput, type CreateResourceInput } from './rules/resource-fields.js';
import { UPLOAD_ERRORS, NEBULA_PAGE_SIZE, pageInput, resultWithCode } from './wire-common.js';

export const createMcubeNebulaResource = defineAction<CreateResourceInput>({
  name: 'CreateMcubeNebulaResource',
  summary: 'Create an offline package (one version of an H5 app) from an uploaded .zip: builds and signs the .amr and its h5.json.',
  tag: 'Nebula',
  input: {
    ...commonInput,
    H5Id: S.str('8-digit H5 app id; the app is created when missing', 64),
    H5Name: S.str('H5 app name (used when the app is created)', 200),
    H5Version: S.str('dotted numeric version, unique within the H5 app, e.g. 1.0.0.1', 64),
    ResourceType: S.int32('0 global resource package (zip: <H5Id>/<domain>/<AppId_WorkspaceId>/..., or <H5Id>/<domain>/mcube/<AppId_WorkspaceId>/... as on a private cloud), 1 normal package (<H5Id>/...); fixed per H5 app by its first package'),
    Platform: S.str('all, Android or iOS', 16),
    ClientVersionMin: S.str('"ios;android": "aaa;bbb" for all, ";bbb" for Android, "aaa;" for iOS', 64),
    ClientVersionMax: S.str('same form as ClientVersionMin, may be empty (no upper bound)', 64),
    FileUrl: S.str('address of the uploaded .zip (GetMcubeFileToken)', 2048),
    MainUrl: S.str('entry page, ^/[\\w /]+\\.html$, e.g. /www/index.html', 512),
    SubUrl: S.str(undefined, 1024),
    Vhost: S.str('virtual domain; defaults to the configured one (QueryMcubeVhost)', 255),
    CustomDomainName: S.str(undefined, 255),
    ExtendInfo: S.str('JSON object, e.g. {"asyncReqRate":"1800"} (0 to 86400 s)', 8192),
    AutoInstall: S.int32('0 Wi-Fi only, 1 any network'),
    InstallType: S.int32('0 install on first use, 1 preload'),
    RepeatNebula: S.int32('0/1, required for global resource packages'),
    OnexFlag: S.bool('always true'),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CreateMcubeNebulaResourceReslult',
  result: S.obj({ ...resultWithCode, NebulaResourceId: S.str('id of the new package (a string)') }),
  mutates: true,
  errors: [
    'BuildExpired',
    'InvalidH5Id', 'InvalidH5Name', 'InvalidH5Version', 'InvalidResourceType', 'InvalidPlatform', 'InvalidClientVersionMin', 'InvalidClientVersionMax',
    'InvalidFileUrl', 'InvalidMainUrl', 'InvalidSubUrl', 'InvalidVhost', 'InvalidCustomDomainName', 'InvalidExtendInfo', 'InvalidAutoInstall',
    'InvalidInstallType', 'InvalidRepeatNebula', 'H5VersionExists', 'ResourceTypeMismatch', 'VhostNotConfigured', 'ConcurrentChange', 'RsaKeyChanged', ...UPLOAD_ERRORS, ...PACKAGE_ERROR_CODES.filter((c) => c !== 'InvalidRsaKey' && c !== 'InvalidExtendInfo'),
  ],
  handler: async (input, ctx) => {
    const spec = checkResourceInput(input);
    const { id, signed, nonAscii, longUrls, earlierVhost } = await createResource(ctx, spec);
    if (spec.warning) ctx.deps.log.warn('discouraged H5 app id', { requestId: ctx.requestId, appId: ctx.appId, h5Id: spec.h5Id, warning: spec.warning });
    // the guide has the key configured before packages are made; without one the package is built, but say so
    const unsigned = signed ? null : 'Built unsigned: no RSA key is uploaded for this app and workspace (UploadMcubeRsaKey), so CERT.json holds empty signatures and clients that verify packages will refuse it.';
    const android =
      nonAscii.length === 0
        ? null
        : `${nonAscii.length} path(s) hold characters beyond ASCII (${nonAscii.slice(0, 3).join(', ')}${nonAscii.length > 3 ? ', ...' : ''}): Nebula's Android client cannot load such files; rename them to ASCII.`;
    const long =
      longUrls.length === 0
        ? null
        : `${longUrls.length} file address(es) are longer than the ${MAX_GLOBAL_URL} characters the guide allows public resources (https://${longUrls[0]}${longUrls.length > 1 ? ', ...' : ''}): clients may fail to load them and show a blank page; shorten their folders or names.`;
    const moved = earlierVhost ? `This version is served under ${spec.vhost ? 'the Vhost given' : 'the configured virtual domain'}, the app's earlier versions under ${earlierVhost}: pages that change origin lose their local storage and cookies.` : null;
    const note = [spec.warning, unsigned, android, long, moved].filter(Boolean).join(' ');
    return { NebulaResourceId: String(id), ...(note ? { ResultMsg: note } : {}) };
  },
});

export const listMcubeNebulaResources = defineAction<{ H5Id?: string; PageNum?: number; PageSize?: number }>({
  name: 'ListMcubeNebulaResources',
  summary: 'List the offline packages of an H5 app (all H5 apps when H5Id is empty), newest first, paged.',
  tag: 'Nebula',
  input: { ...commonInput, H5Id: S.str('8-digit H5 app id', 64), ...pageInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListMcubeNebulaResourceResult',
  result: S.obj({
    ...resultWithCode,
    ...pageOutput,
    NebulaResourceInfo: S.arr(resourceInfoSchema),
  }),
  mutates: false,
  handler: async (input, ctx) => {
    const { pageNum, pageSize } = paging(input, NEBULA_PAGE_SIZE);
    const { total, resources } = await listResources(ctx.deps.db.knex, ctx, 'nebula', (input.H5Id ?? '').trim(), (pageNum - 1) * pageSize, pageSize);
    return {
      ...pageResult(pageNum, pageSize, total),
      NebulaResourceInfo: await Promise.all(resources.map((r) => toResourceInfo(ctx, r))),
    };
  },
});

export const getMcubeNebulaResource = defineAction<{ Id?: string }>({
  name: 'GetMcubeNebulaResource',
  summary: 'Get one offline package by its id.',
  tag: 'Nebula',
  input: { ...commonInput, Id: S.str('package id (NebulaResourceId)', 32) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'GetNebulaResourceResult',
  result: S.obj({ ...resultWithCode, NebulaResourceInfo: resourceInfoSchema }),
  mutates: false,
  errors: ['InvalidId', 'NebulaResourceNotFound'],
  handler: async (input, ctx) => {
    const raw = (input.Id ?? '').trim();
    if (!/^\d{1,15}$/.test(raw)) throw invalid('Id', `${shown(input.Id ?? '')} is not a package id.`);
    const r = await getResourceOfKind(ctx.deps.db.knex, ctx, 'nebula', Number(raw));
    if (!r) throw new BusinessError('NebulaResourceNotFound', `Id: no offline package ${raw} in this app and workspace.`);
    return { NebulaResourceInfo: await toResourceInfo(ctx, r) };
  },
});
