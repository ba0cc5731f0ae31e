import { basename, resolve } from 'node:path';
import type { McubeClient } from '../../client.js';
import type { Command } from '../command.js';
import { table } from '../io.js';
import { formatGreyEndtime, mayHaveApplied, packageMayStand } from '../../publish-offline-package.js';
import { oneReleaseKind, parseEndTime } from '../release-options.js';
import { UsageError } from '../usage-error.js';

const PERIOD: Record<number, string> = { 0: 'to be released', 1: 'whitelist gray', 2: 'gray', 3: 'official', 5: 'finished' };
const MODES: Record<string, number> = { single: 202, multiple: 204, forced: 206 };
const MODE_NAMES: Record<number, string> = { 202: 'single', 204: 'multiple', 206: 'forced' };

function numericId(raw: string, what: string, command: string[]): string {
  if (!/^\d+$/.test(raw)) throw new UsageError(`${what} "${raw}" is not a number`, command);
  return raw;
}

async function uploadTo(client: McubeClient, cwd: string, path: string, contentType: string): Promise<string> {
  const token = await client.getMcubeFileToken({ onexFlag: true });
  return client.upload(token.getFileTokenResult.fileToken ?? {}, resolve(cwd, path), { filename: basename(path), contentType });
}

/** Ids of the upgrade packages of this platform and version (numerically equal: 2.1 is 2.1.0), newest first. */
async function existingUpgradePackages(client: McubeClient, platform: string, version: string): Promise<string[]> {
  const parts = (v: string) => v.split('.').map(Number);
  const same = (a: string) => {
    const [x, y] = [parts(a), parts(version)];
    return Array.from({ length: Math.max(x.length, y.length) }, (_, i) => (x[i] ?? 0) === (y[i] ?? 0)).every(Boolean);
  };
  const list = await client.listMcubeUpgradePackages({ pageSize: 200 }, { throwOnBusinessError: true });
  return (list.listPackagesResult.packages ?? [])
    .filter((p) => p.platform?.toLowerCase() === platform.toLowerCase() && same(p.productVersion ?? ''))
    .map((p) => String(p.id));
}

export const upgradeCommands: Command[] = [
  {
    path: ['upgrade', 'create'],
    args: '[package file]',
    positionals: [0, 1],
    summary: 'Upload an .apk / .hap / enterprise .ipa, or register a link, as an upgrade package (CreateMcubeUpgradePackage); prints its id',
    description:
      'With a file, the file is uploaded first. Without one, give --download-url (Android, Harmony, iOS enterprise) or --appstore-url (iOS App Store; with --valid-days and --testers a TestFlight package).',
    options: [
      { name: 'platform', value: '<Android|iOS|Harmony>', help: 'platform of the package (required)' },
      { name: 'version', value: '<x.y.z>', help: 'client version in the package (required)' },
      { name: 'desc', value: '<text>', help: 'release description' },
      { name: 'enterprise', help: 'iOS enterprise distribution (an .ipa)' },
      { name: 'download-url', value: '<url>', help: 'link to the package instead of a file' },
      { name: 'appstore-url', value: '<url>', help: 'App Store address, or the TestFlight public link' },
      { name: 'valid-days', value: '<n>', help: 'TestFlight: days the build stays valid (1-90)' },
      { name: 'testers', value: '<n>', help: 'TestFlight: tester limit (1-10000)' },
      { name: 'bundle-id', value: '<id>', help: 'iOS bundle id' },
      { name: 'icon', value: '<png|jpg>', help: 'icon file to upload' },
      { name: 'symbols', value: '<tgz>', help: 'iOS: dSYM symbol table packed as .tgz, uploaded' },
      { name: 'verify', help: 'download verification (a code is generated)' },
    ],
    examples: [
      'mcube upgrade create app-release.apk --platform Android --version 2.1.0 --desc "bug fixes"',
      'mcube upgrade create --platform iOS --version 2.1.0 --appstore-url https://apps.apple.com/app/id123',
      'ID=$(mcube upgrade create Shop.ipa --platform iOS --enterprise --version 2.1.0 --json | jq -r .resultContent.data)',
    ],
    async run(ctx) {
      const client = ctx.client();
      const file = ctx.positionals[0];
      const icon = ctx.str('icon');
      const symbols = ctx.str('symbols');
      const platform = ctx.str('platform', true);
      const version = ctx.str('version', true);
      const r = await client.createMcubeUpgradePackage({
        platform,
        appVersion: version,
        desc: ctx.str('desc'),
        isEnterprise: ctx.values.enterprise ? 1 : undefined,
        needCheck: ctx.values.verify ? 1 : undefined,
        downloadUrl: ctx.str('download-url'),
        appstoreUrl: ctx.str('appstore-url'),
        validDays: ctx.int('valid-days'),
        installAmount: ctx.int('testers'),
        bundleId: ctx.str('bundle-id'),
        fileUrl: file ? await uploadTo(client, ctx.io.cwd, file, 'application/octet-stream') : undefined,
        iconFileUrl: icon ? await uploadTo(client, ctx.io.cwd, icon, 'application/octet-stream') : undefined,
        iosSymbolfileUrl: symbols ? await uploadTo(client, ctx.io.cwd, symbols, 'application/gzip') : undefined,
        onexFlag: true,
      }).catch(async (err) => {
        // no answer or a 5xx may come after the package was made, and a re-run is then refused as existing: name it
        if (packageMayStand(err, 'UpgradePackageExists')) {
          const ids = await existingUpgradePackages(client, platform, version).catch(() => []);
          if (ids.length) {
            Object.assign(err, { resourceId: ids[0] });
            err.message += ` (${platform} package ${ids.join(', ')} of version ${version} exists: when no answer came, it may be the one this run created; see "mcube upgrade list")`;
          }
        }
        throw err;
      });
      ctx.emit(r);
      ctx.say(`${r.resultContent.data ?? ''}\n`);
    },
  },
  {
    path: ['upgrade', 'list'],
    positionals: [0, 0],
    summary: 'List the upgrade packages (ListMcubeUpgradePackages)',
    options: [
      { name: 'page', value: '<n>', help: 'page number, from 1' },
      { name: 'page-size', value: '<n>', help: 'items per page (at most 200)' },
    ],
    examples: ['mcube upgrade list', 'mcube upgrade list --json | jq ".listPackagesResult.packages[0].id"'],
    async run(ctx) {
      const r = await ctx.client().listMcubeUpgradePackages({ pageNum: ctx.int('page'), pageSize: ctx.int('page-size') });
      ctx.emit(r);
      const res = r.listPackagesResult;
      ctx.say(
        table(
          ['ID', 'PLATFORM', 'TYPE', 'VERSION', 'STATE', 'MD5', 'CREATED'],
          (res.packages ?? []).map((p) => [p.id, p.platform, p.packageType, p.productVersion, PERIOD[p.publishPeriod ?? -1] ?? p.publishPeriod, p.md5, p.gmtCreate]),
        ),
      );
      if (res.hasMore) ctx.say(`(page ${res.currentPage} of ${res.totalCount} packages; --page ${(res.currentPage ?? 1) + 1} for more)\n`);
    },
  },
  {
    path: ['upgrade', 'release'],
    args: '<packageId>',
    positionals: [1, 1],
    summary: 'Create a release task for an upgrade package (CreateMcubeUpgradeTask); prints its id',
    description:
      'Choose the release kind explicitly (an official release is never the default): --official, --whitelist ids for a whitelist gray release, ' +
      'or --end-time with --users for a time-window gray release.',
    options: [
      { name: 'official', help: 'release to every user of older versions' },
      { name: 'mode', value: '<single|multiple|forced>', help: 'upgrade mode (202, 204, 206; default single)' },
      { name: 'whitelist', value: '<id,id>', help: 'whitelist ids (whitelist gray release)' },
      { name: 'end-time', value: '<time>', help: 'end of a time-window gray release, as for nebula release: +36h / +2d / +90m, an instant (2026-01-31T10:00:00Z), or "yyyy-MM-dd HH:mm:ss" in the server\'s wire zone (UTC unless it sets MCUBE_WIRE_TIME_ZONE)' },
      { name: 'users', value: '<n>', help: 'users of a time-window gray release' },
      { name: 'rules', value: '<json>', help: 'advanced rules (gray only), as GreyConfigInfo' },
      { name: 'message', value: '<text>', help: 'upgrade prompt shown to users' },
      { name: 'memo', value: '<text>', help: 'release description' },
      { name: 'once', help: 'do nothing when the package already has an unfinished task of this release kind (a pipeline run again)' },
    ],
    examples: [
      'mcube upgrade release 42 --official --mode forced --message "Please update"',
      'mcube upgrade release 42 --official --once --json',
      'mcube upgrade release 42 --whitelist 17 --mode multiple',
      'mcube upgrade release 42 --end-time "2026-01-31 18:00:00" --users 500',
      'mcube upgrade release 42 --end-time +2d --users 500',
    ],
    async run(ctx) {
      const id = numericId(ctx.positionals[0]!, 'package id', this.path);
      const modeName = ctx.str('mode') ?? 'single';
      const upgradeType = MODES[modeName];
      if (!upgradeType) throw new UsageError(`--mode must be single, multiple or forced, not "${modeName}"`, this.path);
      const official = ctx.values.official === true;
      const whitelist = ctx.str('whitelist');
      const endTime = ctx.str('end-time');
      const users = ctx.str('users');
      oneReleaseKind({ '--official': official, '--whitelist': whitelist, '--end-time/--users': endTime || users }, '--official, --whitelist <ids>, or --end-time <time> --users <n>', this.path);
      if ((endTime || users) && !(endTime && users)) throw new UsageError('a time-window gray release needs both --end-time and --users', this.path);
      if (official && ctx.str('rules') !== undefined) throw new UsageError('--rules applies to gray releases only', this.path);
      const gray = whitelist ? { publishType: 2, publishMode: 1, whitelistIds: whitelist } : endTime ? { publishType: 2, publishMode: 2, greyEndtimeData: formatGreyEndtime(parseEndTime(endTime, Date.now(), this.path)), greyNum: ctx.int('users', true) } : { publishType: 3 };
      const client = ctx.client();
      const kind = gray.publishType === 3 ? 'official' : gray.publishMode === 1 ? 'whitelist gray' : 'time-window gray';
      if (ctx.values.once === true) {
        const tasks = await client.listMcubeUpgradeTasks({ packageId: id }, { throwOnBusinessError: true });
        const open = (tasks.listTaskResult.taskInfo ?? []).find((t) => t.taskStatus !== 2 && t.publishType === gray.publishType && (gray.publishType === 3 || t.publishMode === gray.publishMode));
        if (open) {
          // the task that stands, as it is (its whitelist, end time or mode may differ from this run's)
          ctx.emit({ packageId: id, taskId: String(open.id), existing: true, task: open });
          ctx.io.stderr.write(`package ${id}: ${kind} release already has unfinished task ${open.id} (${MODE_NAMES[open.upgradeType ?? 0] ?? open.upgradeType}${open.whitelistIds ? `, whitelists ${open.whitelistIds}` : ''}${open.greyEndtime ? `, until ${open.greyEndtime}` : ''}); nothing done\n`);
          ctx.say(`${open.id}\n`);
          return;
        }
      }
      const r = await client
        .createMcubeUpgradeTask({
          packageInfoId: Number(id),
          upgradeType,
          ...gray,
          greyConfigInfo: ctx.str('rules'),
          upgradeContent: ctx.str('message'),
          memo: ctx.str('memo'),
        })
        .catch((err) => {
          // without an answer the task may stand all the same: a second run would add another (and another audience)
          if (mayHaveApplied(err)) err.message += ` (when no answer came, the task may have been created: see "mcube upgrade tasks ${id}", or run again with --once)`;
          throw err;
        });
      ctx.emit(r);
      ctx.say(`${r.createTaskResult.upgradeTaskId ?? ''}\n`);
    },
  },
  {
    path: ['upgrade', 'tasks'],
    args: '<packageId>',
    positionals: [1, 1],
    summary: 'List the release tasks of an upgrade package (ListMcubeUpgradeTasks)',
    options: [],
    examples: ['mcube upgrade tasks 42'],
    async run(ctx) {
      const id = numericId(ctx.positionals[0]!, 'package id', this.path);
      const r = await ctx.client().listMcubeUpgradeTasks({ packageId: id });
      ctx.emit(r);
      ctx.say(
        table(
          ['ID', 'RELEASE', 'MODE', 'STATUS', 'WHITELISTS', 'WINDOW END', 'CREATED'],
          (r.listTaskResult.taskInfo ?? []).map((t) => [
            t.id, t.publishType === 3 ? 'official' : t.publishMode === 1 ? 'whitelist gray' : 'time-window gray', MODE_NAMES[t.upgradeType ?? 0] ?? t.upgradeType,
            t.taskStatus === 1 ? 'releasing' : t.taskStatus, t.whitelistIds, t.greyEndtime, t.gmtCreate,
          ]),
        ),
      );
    },
  },
];
