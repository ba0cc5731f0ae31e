import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { packOfflinePackageToBuffer } from '../../pack-offline-package.js';
import type { McubeClient } from '../../client.js';
import { H5_VERSION, inStep, MINI_ID, packageMayStand, releaseFields, unknownWhitelists } from '../../publish-offline-package.js';
import type { Command, CommandContext } from '../command.js';
import { progressBar, table } from '../io.js';
import { clientVersion, pick, PLATFORMS, releaseOf, releaseOptions } from '../release-options.js';
import { UsageError } from '../usage-error.js';
import { alreadyThere, statusIfUnchanged } from './task.js';

const TASK_STATUS = ['to be released', 'releasing', 'finished', 'paused'];
const MODE: Record<number, string> = { 1: 'whitelist', 2: 'time window', 4: 'full' };

function miniId(ctx: CommandContext, command: string[]): string {
  const id = ctx.str('h5-id', true);
  if (!MINI_ID.test(id)) throw new UsageError(`--h5-id "${id}" must be the 16-digit mini program id`, command);
  return id;
}

const YES_NO = { yes: 'YES', no: 'NO', true: 'YES', false: 'NO', '1': 'YES', '0': 'NO' } as const;
const yesNo = (ctx: CommandContext, name: string, command: string[]) => pick(name, ctx.str(name), YES_NO, command);

/** Mini program release kinds: those of offline packages without percentage (the mini calls take no Percent). */
function miniRelease(ctx: CommandContext, command: string[]) {
  const { release, rules } = releaseOf(ctx, command);
  const f = releaseFields(release, rules);
  return { release, fields: { publishType: f.publishType, publishMode: f.publishMode, whitelistIds: f.whitelistIds, greyEndtimeData: f.greyEndtimeData, greyNum: f.greyNum, greyConfigInfo: f.greyConfigInfo } };
}

/** A row id given on the command line: a whole number from 1 that fits the wire's integers. */
function idArg(raw: string, what: string, command: string[]): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || !Number.isSafeInteger(n)) throw new UsageError(`${what} "${raw}" is not an id (a whole number from 1)`, command);
  return n;
}

/** The id of this mini program's package of this version, if one exists (the newest come first). */
async function existingMiniPackage(client: McubeClient, h5Id: string, version: string): Promise<string | undefined> {
  const list = await client.listMcubeMiniPackages({ h5Id, pageSize: 500 }, { throwOnBusinessError: true });
  const hit = (list.listMiniPackageResult.miniPackageList ?? []).find((p) => p.h5Version === version);
  return hit?.id === undefined ? undefined : String(hit.id);
}

const kindOf = (type: string) => (type === 'official' ? 'official release' : `gray release (${type})`);

export const miniPublish: Command = {
  path: ['mini', 'publish'],
  args: '<zip|folder>',
  positionals: [1, 1],
  summary: 'Upload a mini program package and release it, in one step',
  description:
    'Packs a folder (the files go below <h5-id>/), asks for an upload token, uploads the zip, creates the package ' +
    '(UploadMcubeMiniPackage; the mini program is created when missing) and its release task (CreateMcubeMiniTask). ' +
    'Choose the release kind explicitly. When the task step fails the package stays; its id is in the error ' +
    '(resourceId): release it with "mcube api CreateMcubeMiniTask --PackageId <id> ...".',
  options: [
    { name: 'h5-id', value: '<16 digits>', help: 'mini program id (required)' },
    { name: 'version', value: '<x.y.z.w>', help: 'package version, unique in the mini program (required)' },
    { name: 'name', value: '<text>', help: 'mini program name, used when it is created (default: the id)' },
    { name: 'platform', value: '<all|Android|iOS>', help: 'default all' },
    { name: 'client-min', value: '<version>', help: 'lowest client version: 1.0.0, or "ios;android" (default 1.0.0)' },
    { name: 'client-max', value: '<version>', help: 'highest client version, same form (default: no limit)' },
    { name: 'main-url', value: '<path>', help: 'entry page, optionally with its first page after # (default /index.html)' },
    { name: 'package-type', value: '<n>', help: 'the console\'s package type, stored and filtered on (default 0)' },
    { name: 'tab-bar', value: '<yes|no>', help: 'launchParams.enableTabBar' },
    { name: 'keep-alive', value: '<yes|no>', help: 'launchParams.enableKeepAlive' },
    { name: 'option-menu', value: '<yes|no>', help: 'launchParams.enableOptionMenu' },
    ...releaseOptions(false),
  ],
  examples: [
    'mcube mini publish dist --h5-id 2024010100000001 --version 1.0.0.1 --gray-whitelist 17',
    'mcube mini publish mini.zip --h5-id 2024010100000001 --version 1.0.0.2 --official --tab-bar yes --json',
  ],
  async run(ctx) {
    const command = this.path;
    const h5Id = miniId(ctx, command);
    const version = ctx.str('version', true);
    if (!H5_VERSION.test(version)) throw new UsageError(`--version "${version}" must be a dotted numeric version such as 1.0.0.1`, command);
    const { release, fields } = miniRelease(ctx, command);
    const wirePlatform = pick('platform', ctx.str('platform') ?? 'all', PLATFORMS, command)!;
    const flags = { enableTabBar: yesNo(ctx, 'tab-bar', command), enableKeepAlive: yesNo(ctx, 'keep-alive', command), enableOptionMenu: yesNo(ctx, 'option-menu', command) };
    const packageType = ctx.int('package-type');
    if (packageType !== undefined && (packageType < 0 || packageType > 99)) throw new UsageError(`--package-type ${packageType} must be a whole number from 0 to 99`, command);
    const client = ctx.client();
    const source = resolve(ctx.io.cwd, ctx.positionals[0]!);
    const note = (text: string) => void (!ctx.json && ctx.io.stderr.write(`${text}...\n`));
    let packageId: string | undefined;
    let step = 'pack';
    // the release asked for, spelled for `mcube api` (wire names); a lost answer may have created the task all the same
    const wire = Object.entries(fields)
      .filter(([, v]) => v !== undefined && v !== '')
      .map(([k, v]) => `--${k.charAt(0).toUpperCase()}${k.slice(1)} ${/^[\w.,:-]+$/.test(String(v)) ? v : `'${String(v).replace(/'/g, `'\\''`)}'`}`)
      .join(' ');
    const how = () =>
      `CreateMcubeMiniTask, e.g. "mcube api CreateMcubeMiniTask --PackageId ${packageId} ${wire}", after "mcube mini tasks ${packageId}" shows no such task: when no answer came, it may have been created`;
    let taskId = '';
    let warning = '';
    try {
      const st = await stat(source).catch(() => null);
      if (!st) throw new UsageError(`${ctx.positionals[0]} is neither a .zip file nor a folder`, command);
      const unknown = fields.whitelistIds ? await unknownWhitelists(client, fields.whitelistIds, 'CreateMcubeMiniTask') : null;
      if (unknown) throw unknown;
      let zip: string | Buffer = source;
      if (st.isDirectory()) {
        note('packing the folder');
        zip = await packOfflinePackageToBuffer(source, { h5Id, mainUrl: (ctx.str('main-url') ?? '/index.html').replace(/#.*$/, '') });
      }
      step = 'token';
      note('asking for an upload token');
      const token = (await client.getMcubeFileToken({ onexFlag: true }, { throwOnBusinessError: true })).getFileTokenResult.fileToken!;
      step = 'upload';
      const bar = progressBar(ctx.io, 'uploading');
      const resourceFileUrl = await client.upload(token, zip, { filename: `${h5Id}.zip`, onProgress: (sent, total) => bar.update(sent, total) }).finally(() => bar.done());
      step = 'package';
      note('creating the package (building and signing the .amr)');
      const up = await client.uploadMcubeMiniPackage(
        {
          h5Id, h5Name: ctx.str('name') ?? h5Id, h5Version: version, packageType: packageType ?? 0, resourceType: 1, platform: wirePlatform,
          clientVersionMin: clientVersion(ctx.str('client-min') ?? '1.0.0', wirePlatform), clientVersionMax: clientVersion(ctx.str('client-max'), wirePlatform),
          resourceFileUrl, mainUrl: ctx.str('main-url') ?? '/index.html', autoInstall: 0, installType: 1,
          enableTabBar: flags.enableTabBar === undefined ? undefined : flags.enableTabBar === 'YES' ? 1 : 0,
          enableKeepAlive: flags.enableKeepAlive, enableOptionMenu: flags.enableOptionMenu, onexFlag: true,
        },
        { throwOnBusinessError: true },
      );
      packageId = String(up.uploadMiniPackageResult.returnPackageResult?.packageId ?? '');
      warning = up.uploadMiniPackageResult.resultMsg ?? '';
      if (warning) ctx.io.stderr.write(`warning: ${warning}\n`);
      step = 'task';
      note('creating the release task');
      const t = await client.createMcubeMiniTask({ packageId: Number(packageId), memo: ctx.str('memo'), ...fields }, { throwOnBusinessError: true });
      taskId = String(t.createMiniTaskResult.miniTaskId);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      if (step === 'package' && !packageId && packageMayStand(err, 'H5VersionExists')) {
        packageId = await existingMiniPackage(client, h5Id, version).catch(() => undefined);
      }
      // a failed task step leaves the package created: the error names it, so a re-run releases it instead
      throw inStep(step, err, packageId, how());
    }
    ctx.emit({ h5Id, version, packageId, taskId, release, warnings: warning ? [warning] : [] });
    ctx.say(`published mini program ${h5Id} ${version} as ${kindOf(release.type)}: package ${packageId}, task ${taskId}`);
  },
};

export const miniPackages: Command = {
  path: ['mini', 'packages'],
  positionals: [0, 0],
  summary: 'List the packages of a mini program (ListMcubeMiniPackages)',
  options: [
    { name: 'h5-id', value: '<16 digits>', help: 'mini program id (default: every mini program)' },
    { name: 'package-types', value: '<n[,n]>', help: 'only these package types' },
    { name: 'page', value: '<n>', help: 'page number, from 1' },
    { name: 'page-size', value: '<n>', help: 'items per page' },
  ],
  examples: ['mcube mini packages --h5-id 2024010100000001', 'mcube mini packages --package-types 1 --json'],
  async run(ctx) {
    const h5Id = ctx.str('h5-id');
    if (h5Id !== undefined && !MINI_ID.test(h5Id)) throw new UsageError(`--h5-id "${h5Id}" must be the 16-digit mini program id`, this.path);
    const r = await ctx
      .client()
      .listMcubeMiniPackages({ h5Id, packageTypes: ctx.str('package-types'), pageNum: ctx.int('page'), pageSize: ctx.int('page-size') }, { throwOnBusinessError: true });
    ctx.emit(r);
    const res = r.listMiniPackageResult;
    ctx.say(table(['ID', 'MINI PROGRAM', 'VERSION', 'TYPE', 'PLATFORM', 'CREATED'], (res.miniPackageList ?? []).map((p) => [p.id, `${p.h5Id} ${p.h5Name}`, p.h5Version, p.packageType, p.platform, p.gmtCreate])));
    if (res.hasMore) ctx.say(`(page ${res.currentPage} of ${res.totalCount} packages; --page ${(res.currentPage ?? 1) + 1} for more)\n`);
  },
};

export const miniTasks: Command = {
  path: ['mini', 'tasks'],
  args: '<packageId>',
  positionals: [1, 1],
  summary: 'List the release tasks of a mini program package (ListMcubeMiniTasks)',
  options: [],
  examples: ['mcube mini tasks 42'],
  async run(ctx) {
    const id = String(idArg(ctx.positionals[0]!, 'package id', this.path));
    const r = await ctx.client().listMcubeMiniTasks({ id }, { throwOnBusinessError: true });
    ctx.emit(r);
    const list = r.listMiniTaskResult.miniTaskList ?? [];
    ctx.say(
      table(
        ['TASK', 'RELEASE', 'STATUS', 'MEMO'],
        list.map((t) => [t.id, t.publishType === 3 ? 'official' : `gray, ${MODE[t.publishMode ?? 0] ?? t.publishMode}`, TASK_STATUS[t.taskStatus ?? -1] ?? t.taskStatus, t.memo]),
      ),
    );
  },
};

const CHANGES = [
  { word: 'start', status: 1, done: 'started' },
  { word: 'pause', status: 3, done: 'paused' },
  { word: 'continue', status: 1, done: 'continued' },
  { word: 'end', status: 2, done: 'ended' },
] as const;

export const miniTaskCommands: Command[] = CHANGES.map(
  (c): Command => ({
    path: ['mini', c.word],
    args: '<taskId>',
    positionals: [1, 1],
    summary: `${c.word[0]!.toUpperCase()}${c.word.slice(1)} a mini program release task (ChangeMcubeMiniTaskStatus, TaskStatus ${c.status})`,
    options: [],
    examples: [`mcube mini ${c.word} 17`],
    async run(ctx) {
      const id = idArg(ctx.positionals[0]!, 'task id', this.path);
      const client = ctx.client();
      const r = await client.changeMcubeMiniTaskStatus({ taskId: id, taskStatus: c.status }, { throwOnBusinessError: true }).catch(async (err) => {
        const now = await statusIfUnchanged(err, c.status, async () => (await client.queryMcubeMiniTask({ taskId: id }, { throwOnBusinessError: true })).queryMiniTaskResult.miniTaskInfo?.taskStatus);
        if (now === undefined) throw err;
        return null;
      });
      if (r === null) return alreadyThere(ctx, String(id), c.status);
      ctx.emit(r);
      ctx.say(`mini program task ${id} ${c.done}`);
    },
  }),
);
