import { pageOutput, pageResult, paging } from '../../core/paging.js';
import { defineAction } from '../../core/registry.js';
import { S, commonInput } from '../../core/schema.js';
import { createApp, deleteApp, pageOfApps } from './app-service.js';
import { NEBULA_PAGE_SIZE, pageInput, resultWithCode } from './wire-common.js';

export const listMcubeNebulaApps = defineAction<{ Keyword?: string; PageNum?: number; PageSize?: number }>({
  name: 'ListMcubeNebulaApps',
  summary: 'List the H5 apps (offline-package apps), filtered by a keyword on id or name, paged.',
  tag: 'Nebula',
  input: { ...commonInput, Keyword: S.str('part of the H5 app id or name (case-insensitive)', 200), ...pageInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListMcubeNebulaAppsResult',
  result: S.obj({
    ...resultWithCode,
    ...pageOutput,
    NebulaAppInfos: S.arr(S.obj({ H5Id: S.str(), H5Name: S.str() })),
  }),
  mutates: false,
  handler: async (input, ctx) => {
    const { pageNum, pageSize } = paging(input, NEBULA_PAGE_SIZE);
    const { total, apps } = await pageOfApps(ctx, input.Keyword ?? '', pageNum, pageSize);
    return {
      ...pageResult(pageNum, pageSize, total),
      NebulaAppInfos: apps.map((a) => ({ H5Id: a.h5Id, H5Name: a.h5Name })),
    };
  },
});

export const createMcubeNebulaApp = defineAction<{ H5Id?: string; H5Name?: string }>({
  name: 'CreateMcubeNebulaApp',
  summary: 'Create an H5 app: an 8-digit H5Id and a name. The ids built into the Nebula SDK (20000196, 66666692, 68687029, 68687209) are refused; other ids starting 666666 or 20000 are accepted with a warning in ResultMsg.',
  tag: 'Nebula',
  input: { ...commonInput, H5Id: S.str('8-digit offline package id', 64), H5Name: S.str('display name', 200) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'CreateNebulaAppResult',
  result: S.obj(resultWithCode),
  mutates: true,
  errors: ['InvalidH5Id', 'InvalidH5Name', 'NebulaAppExists'],
  handler: async (input, ctx) => {
    const { warning } = await createApp(ctx, input.H5Id, input.H5Name);
    return warning ? { ResultMsg: warning } : {};
  },
});

export const deleteMcubeNebulaApp = defineAction<{ H5Id?: string }>({
  name: 'DeleteMcubeNebulaApp',
  summary: 'Delete an H5 app with all its offline packages, release tasks and stored files.',
  tag: 'Nebula',
  input: { ...commonInput, H5Id: S.str('8-digit offline package id', 64) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'DeleteMcubeNebulaAppResult',
  result: S.obj(resultWithCode),
  mutates: true,
  errors: ['InvalidH5Id', 'NebulaAppNotFound'],
  handler: async (input, ctx) => {
    await deleteApp(ctx, input.H5Id);
    return {};
  },
});
