import { resolve } from 'node:path';
import { H5_ID, H5_VERSION, publishOfflinePackage, releaseFields, type PublishStep, type ReleaseSpec } from '../../publish-offline-package.js';
import type { Command } from '../command.js';
import { progressBar } from '../io.js';
import { clientVersion, pick, PLATFORMS, releaseOf, releaseOptions } from '../release-options.js';
import { UsageError } from '../usage-error.js';

const STEP_TEXT: Record<PublishStep, string> = {
  pack: 'packing the folder',
  token: 'asking for an upload token',
  upload: 'uploading',
  resource: 'creating the package (building and signing the .amr)',
  task: 'creating the release task',
};

const kindOf = (release: ReleaseSpec) => (release.type === 'official' ? 'official release' : `gray release (${release.type})`);

export const nebulaPublish: Command = {
  path: ['nebula', 'publish'],
  args: '<zip|folder>',
  positionals: [1, 1],
  summary: 'Upload an offline package and release it, in one step',
  description:
    'Asks for an upload token, uploads the zip (a folder is packed first, see "mcube nebula pack"), creates the package ' +
    '(CreateMcubeNebulaResource; the H5 app is created when missing) and its release task (CreateMcubeNebulaTask). ' +
    'Choose the release kind explicitly. When the task step fails the package stays: release it with "mcube nebula release <resourceId>". ' +
    'What the server says about the built package (e.g. built unsigned) is printed as a warning; --strict refuses to release such a package.',
  options: [
    { name: 'h5-id', value: '<8 digits>', help: 'offline package id (required)' },
    { name: 'version', value: '<x.y.z.w>', help: 'package version, unique in the H5 app (required)' },
    { name: 'name', value: '<text>', help: 'H5 app name, used when the app is created (default: the id)' },
    { name: 'platform', value: '<all|Android|iOS>', help: 'default all' },
    { name: 'client-min', value: '<version>', help: 'lowest client version: 1.0.0, or "ios;android" (default 1.0.0)' },
    { name: 'client-max', value: '<version>', help: 'highest client version, same form (default: no limit)' },
    { name: 'main-url', value: '<path>', help: 'entry page (default /www/index.html)' },
    ...releaseOptions(),
    { name: 'resource-type', value: '<normal|global>', help: 'package type, fixed per H5 app by its first package (default normal)' },
    { name: 'extend-info', value: '<json>', help: 'extended information, e.g. {"asyncReqRate":"1800"}' },
    { name: 'download', value: '<wifi|any>', help: 'networks the package downloads on (default wifi)' },
    { name: 'install', value: '<preload|lazy>', help: 'install once downloaded, or when first opened (default preload)' },
    { name: 'repeat-nebula', value: '<0|1>', help: 'reuse the global package (global resource packages only)' },
    { name: 'vhost', value: '<domain>', help: 'virtual domain (default: the configured one)' },
    { name: 'strict', help: 'fail (exit 4) instead of releasing a package built with a warning: unsigned (no RSA key uploaded), or files Android cannot load' },
  ],
  examples: [
    'mcube nebula publish dist --h5-id 12345678 --version 1.0.0.1 --official',
    'mcube nebula publish shop.zip --h5-id 12345678 --version 1.0.0.2 --gray-whitelist 17,18 --rule city:include:Shanghai,Beijing',
    'mcube nebula publish dist --h5-id 12345678 --version 1.0.0.3 --gray-window +2d,1000 --rule os:within:9.0-14.0 --json',
  ],
  async run(ctx) {
    const command = this.path;
    const { release, rules } = releaseOf(ctx, command);
    const platform = pick('platform', ctx.str('platform') ?? 'all', PLATFORMS, command)!;
    const h5Id = ctx.str('h5-id', true);
    if (!H5_ID.test(h5Id)) throw new UsageError(`--h5-id "${h5Id}" must be the 8-digit offline package id`, command);
    const version = ctx.str('version', true);
    if (!H5_VERSION.test(version)) throw new UsageError(`--version "${version}" must be a dotted numeric version such as 1.0.0.1`, command);
    const client = ctx.client();
    const bar = progressBar(ctx.io, 'uploading');
    const r = await publishOfflinePackage({
      client,
      h5Id,
      version,
      h5Name: ctx.str('name'),
      zip: resolve(ctx.io.cwd, ctx.positionals[0]!),
      platform,
      clientVersionMin: clientVersion(ctx.str('client-min') ?? '1.0.0', platform)!,
      clientVersionMax: clientVersion(ctx.str('client-max'), platform),
      mainUrl: ctx.str('main-url') ?? '/www/index.html',
      resourceType: pick('resource-type', ctx.str('resource-type'), { normal: 1, global: 0, '1': 1, '0': 0 } as const, command),
      release,
      rules,
      memo: ctx.str('memo'),
      extendInfo: ctx.str('extend-info'),
      autoInstall: pick('download', ctx.str('download'), { wifi: 0, any: 1 } as const, command),
      installType: pick('install', ctx.str('install'), { lazy: 0, preload: 1 } as const, command),
      repeatNebula: pick('repeat-nebula', ctx.str('repeat-nebula'), { '0': 0, '1': 1 } as const, command),
      vhost: ctx.str('vhost'),
      strict: ctx.values.strict === true,
      onProgress: (p) => {
        if (p.sent !== undefined) return bar.update(p.sent, p.total);
        if (p.step === 'resource') bar.done();
        if (!ctx.json) ctx.io.stderr.write(`${STEP_TEXT[p.step]}...\n`);
      },
    }).finally(() => bar.done());
    ctx.emit({ ...r, release });
    // on stderr (also with --json, whose stdout stays one JSON document): a CI log shows them
    for (const w of r.warnings) ctx.io.stderr.write(`warning: ${w}\n`);
    ctx.say(`published ${r.h5Id} ${r.version} as ${kindOf(release)}: package ${r.resourceId}, task ${r.taskId}`);
  },
};

export const nebulaRelease: Command = {
  path: ['nebula', 'release'],
  args: '<resourceId>',
  positionals: [1, 1],
  summary: 'Release a package that already exists (CreateMcubeNebulaTask)',
  description:
    'Creates a release task for a package created earlier, e.g. after "nebula publish" failed at its task step ' +
    '(the package stays; publishing the same version again is refused as H5VersionExists), or for another ' +
    'release of the same package once its earlier task has ended. Choose the release kind explicitly.',
  options: [
    ...releaseOptions(),
    { name: 'once', help: 'do nothing when the package already has an unfinished task of this release kind (a pipeline run again)' },
  ],
  examples: ['mcube nebula release 42 --gray-whitelist 17', 'mcube nebula release 42 --official --memo "after the gray run"', 'mcube nebula release 42 --official --once --json'],
  async run(ctx) {
    const command = this.path;
    const raw = ctx.positionals[0]!;
    if (!/^\d+$/.test(raw)) throw new UsageError(`package id "${raw}" is not a number`, command);
    const { release, rules } = releaseOf(ctx, command);
    const fields = releaseFields(release, rules);
    const client = ctx.client();
    if (ctx.values.once === true) {
      const tasks = await client.listMcubeNebulaTasks({ id: Number(raw) }, { throwOnBusinessError: true });
      const open = (tasks.listMcubeNebulaTaskResult.nebulaTaskInfo ?? []).find(
        (t) => t.taskStatus !== 2 && t.publishType === fields.publishType && (fields.publishType === 3 || t.publishMode === fields.publishMode),
      );
      if (open) {
        // `task` is the task that stands, as it is: its percentage, whitelists or end time may differ from this run's
        ctx.emit({ resourceId: raw, taskId: String(open.id), release, existing: true, task: open });
        if (fields.publishType !== 3) {
          const ids = (v: unknown) => [...new Set(String(v ?? '').split(',').map((x) => x.trim()).filter(Boolean))].sort().join(',');
          const [same, live] =
            fields.publishMode === 1 ? [ids(fields.whitelistIds) === ids(open.whitelistIds), `whitelists ${open.whitelistIds}`]
            : fields.publishMode === 3 ? [Number(fields.percent) === Number(open.percent), `percent ${open.percent}`]
            : [Number(fields.greyNum) === Number(open.greyNum), `${open.greyNum} users until ${open.greyEndtime}`];
          if (!same) ctx.io.stderr.write(`warning: task ${open.id} is released with other settings than this run asked for (${live}); end it and release again to change them\n`);
        }
        ctx.say(`package ${raw}: ${kindOf(release)} already has unfinished task ${open.id}; nothing done`);
        return;
      }
    }
    const r = await client.createMcubeNebulaTask({ id: 0, packageId: Number(raw), bizType: 'nebula', memo: ctx.str('memo'), ...fields });
    const taskId = r.createMcubeNebulaTaskResult.nebulaTaskId;
    const note = r.createMcubeNebulaTaskResult.resultMsg;
    if (note) ctx.io.stderr.write(`warning: ${note}\n`);
    ctx.emit({ resourceId: raw, taskId, release, requestId: r.requestId, warnings: note ? [note] : [] });
    ctx.say(`package ${raw}: ${kindOf(release)}, task ${taskId}`);
  },
};
