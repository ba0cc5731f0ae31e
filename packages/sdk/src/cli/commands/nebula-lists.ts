import type { Command } from '../command.js';
import { table } from '../io.js';

const PERIOD = ['initial', 'whitelist gray', 'gray', 'official', 'rollback', 'finished'];
const TASK_STATUS = ['to be released', 'releasing', 'finished', 'paused'];
const MODE: Record<number, string> = { 1: 'whitelist', 2: 'time window', 3: 'percentage', 4: 'full' };
const page = [
  { name: 'page', value: '<n>', help: 'page number, from 1' },
  { name: 'page-size', value: '<n>', help: 'items per page' },
];

export const nebulaApps: Command = {
  path: ['nebula', 'apps'],
  positionals: [0, 0],
  summary: 'List the H5 apps (ListMcubeNebulaApps)',
  options: [{ name: 'keyword', value: '<text>', help: 'part of the id or name' }, ...page],
  examples: ['mcube nebula apps', 'mcube nebula apps --keyword shop --json'],
  async run(ctx) {
    const r = await ctx.client().listMcubeNebulaApps({ keyword: ctx.str('keyword'), pageNum: ctx.int('page'), pageSize: ctx.int('page-size') });
    ctx.emit(r);
    const res = r.listMcubeNebulaAppsResult;
    ctx.say(table(['H5 ID', 'NAME'], (res.nebulaAppInfos ?? []).map((a) => [a.h5Id, a.h5Name])));
    if (res.hasMore) ctx.say(`(page ${res.currentPage} of ${res.totalCount} apps; --page ${(res.currentPage ?? 1) + 1} for more)\n`);
  },
};

export const nebulaResources: Command = {
  path: ['nebula', 'resources'],
  positionals: [0, 0],
  summary: 'List the packages (versions) of an H5 app (ListMcubeNebulaResources)',
  options: [{ name: 'h5-id', value: '<8 digits>', help: 'H5 app id (required)' }, ...page],
  examples: ['mcube nebula resources --h5-id 12345678', 'mcube nebula resources --h5-id 12345678 --json | jq ".listMcubeNebulaResourceResult.nebulaResourceInfo[0].id"'],
  async run(ctx) {
    const r = await ctx.client().listMcubeNebulaResources({ h5Id: ctx.str('h5-id', true), pageNum: ctx.int('page'), pageSize: ctx.int('page-size') });
    ctx.emit(r);
    const res = r.listMcubeNebulaResourceResult;
    ctx.say(
      table(
        ['ID', 'VERSION', 'PLATFORM', 'CLIENT MIN', 'CLIENT MAX', 'STATE', 'CREATED'],
        (res.nebulaResourceInfo ?? []).map((x) => [x.id, x.h5Version, x.platform, x.clientVersionMin, x.clientVersionMax, PERIOD[x.publishPeriod ?? -1] ?? x.publishPeriod, x.gmtCreate]),
      ),
    );
    if (res.hasMore) ctx.say(`(page ${res.currentPage} of ${res.totalCount} packages; --page ${(res.currentPage ?? 1) + 1} for more)\n`);
  },
};

export const nebulaTasks: Command = {
  path: ['nebula', 'tasks'],
  positionals: [0, 0],
  summary: 'List the release tasks of a package (ListMcubeNebulaTasks)',
  options: [{ name: 'resource-id', value: '<id>', help: 'package id, as printed by publish or resources (required)' }],
  examples: ['mcube nebula tasks --resource-id 42'],
  async run(ctx) {
    const r = await ctx.client().listMcubeNebulaTasks({ id: ctx.int('resource-id', true) });
    ctx.emit(r);
    ctx.say(
      table(
        ['ID', 'TYPE', 'MODE', 'STATUS', 'VERSION', 'CREATED', 'MEMO'],
        (r.listMcubeNebulaTaskResult.nebulaTaskInfo ?? []).map((t) => [
          t.id,
          t.publishType === 3 ? 'official' : 'gray',
          MODE[t.publishMode ?? 0] ?? t.publishMode,
          TASK_STATUS[t.taskStatus ?? -1] ?? t.taskStatus,
          t.productVersion,
          t.gmtCreate,
          t.memo,
        ]),
      ),
    );
  },
};

export const TASK_STATUS_NAMES = TASK_STATUS;
export const PUBLISH_MODE_NAMES = MODE;
