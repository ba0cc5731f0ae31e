import { pageInput, pageOutput, pageResult, paging } from '../../core/paging.js';
import { defineAction } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';
import { FILE_URL_ERRORS } from '../storage/index.js';
import { createPackage, deletePackage, MAX_UPGRADE_PAGE_SIZE, mustGetPackage, pageOfPackages, UPGRADE_PAGE_SIZE } from './package-service.js';
import { packageInfoSchema, testFlightSchema, toPackageInfo, toTestFlight } from './package-wire.js';
import { checkPackageInput, type CreatePackageInput } from './rules/package-fields.js';
import { openTaskCounts } from './upgrade-store.js';

const TAG = 'Upgrade';
const resultWithCode = { ...resultBase, ErrorCode: S.str(), RequestId: S.str() };

export const createMcubeUpgradePackage = defineAction<CreatePackageInput>({
  name: 'CreateMcubeUpgradePackage',
  summary:
    'Register an upgrade package: an uploaded .apk (Android), .hap/.app (Harmony) or enterprise .ipa (iOS), a download link, or an App Store / TestFlight link (iOS). Uploaded files are copied with their md5 and size.',
  tag: TAG,
  input: {
    ...commonInput,
    AppVersion: S.str('version of the client in the package, dotted numeric (e.g. 9.9.0); unique per platform and distribution type', 64),
    AppstoreUrl: S.str('iOS App Store address, or the App Store Connect public link of a TestFlight package; stored as given, never fetched', 2048),
    BundleId: S.str('iOS bundle id (optional)', 255),
    CustomDomainName: S.str('a domain name, stored as given', 255),
    Desc: S.str('release description, at most 2000 characters', 4096),
    DownloadUrl: S.str('http(s) link to the package, instead of an upload (Android, Harmony, iOS enterprise); stored as given, never fetched', 2048),
    FileUrl: S.str('the uploaded .apk / .hap / .app / enterprise .ipa (GetMcubeFileToken); must be an object of this server', 2048),
    HarmonyLabel: S.str('label of a Harmony app (optional)', 255),
    IconFileUrl: S.str('uploaded .png or .jpg icon, at most 5 MB (optional)', 2048),
    InstallAmount: S.int32('TestFlight tester limit, 1 to 10000 (given with ValidDays: makes an iOS package a TestFlight package)'),
    IosSymbolfileUrl: S.str('uploaded dSYM symbol table packed as .tgz (iOS, optional)', 2048),
    IsEnterprise: S.int32('1 iOS enterprise distribution (an uploaded .ipa), 0 otherwise (default)'),
    LargeIconUrl: S.str('http(s) link to a large icon; stored as given, never fetched', 2048),
    NeedCheck: S.int32('1 download verification (a code is generated), 0 none (default); downloadable packages only'),
    OnexFlag: S.bool('accepted and ignored'),
    Platform: S.str('Android, iOS or Harmony', 16),
    ValidDays: S.int32('days a TestFlight build stays valid, 1 to 90 (given with InstallAmount)'),
  },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ResultContent',
  result: S.obj({ ...resultWithCode, Data: S.str('id of the new package, as a decimal string') }),
  mutates: true,
  errors: [
    'BuildExpired',
    'InvalidPlatform', 'InvalidAppVersion', 'InvalidDesc', 'InvalidIsEnterprise', 'InvalidNeedCheck', 'InvalidDownloadUrl', 'InvalidAppstoreUrl', 'InvalidLargeIconUrl',
    'InvalidCustomDomainName', 'InvalidBundleId', 'InvalidHarmonyLabel', 'InvalidIosSymbolfileUrl', 'InvalidIconFileUrl', 'InvalidValidDays', 'InvalidInstallAmount',
    'UpgradePackageExists', ...FILE_URL_ERRORS,
  ],
  handler: async (input, ctx) => {
    const { id } = await createPackage(ctx, checkPackageInput(input));
    return { Data: String(id) };
  },
});

export const listMcubeUpgradePackages = defineAction<{ PageNum?: number; PageSize?: number }>({
  name: 'ListMcubeUpgradePackages',
  summary: 'List the upgrade packages of the app and workspace, newest first, paged.',
  tag: TAG,
  input: { ...commonInput, ...pageInput(UPGRADE_PAGE_SIZE, MAX_UPGRADE_PAGE_SIZE) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'ListPackagesResult',
  result: S.obj({ ...resultWithCode, ...pageOutput, Packages: S.arr(packageInfoSchema) }),
  mutates: false,
  handler: async (input, ctx) => {
    const { pageNum, pageSize } = paging(input, UPGRADE_PAGE_SIZE);
    const { total, packages, openTasks } = await pageOfPackages(ctx, pageNum, pageSize);
    return {
      ...pageResult(pageNum, pageSize, total),
      Packages: await Promise.all(packages.map((p) => toPackageInfo(ctx, p, openTasks.get(p.id)))),
    };
  },
});

export const getMcubeUpgradePackageInfo = defineAction<{ PackageId?: number }>({
  name: 'GetMcubeUpgradePackageInfo',
  summary: 'Get one upgrade package: its base information and, for TestFlight packages, the TestFlight settings.',
  tag: TAG,
  input: { ...commonInput, PackageId: S.int64('package id (an integer here)') },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'GetPackageResult',
  result: S.obj({ ...resultWithCode, PackageInfo: S.obj({ MobileTestFlightConfigDO: testFlightSchema, UpgradeBaseInfoDO: packageInfoSchema }) }),
  mutates: false,
  errors: ['InvalidPackageId', 'UpgradePackageNotFound'],
  handler: async (input, ctx) => {
    const p = await mustGetPackage(ctx, 'PackageId', input.PackageId);
    const counts = (await openTaskCounts(ctx.deps.db.knex, ctx, [p.id])).get(p.id);
    const testFlight = toTestFlight(p);
    return { PackageInfo: { ...(testFlight ? { MobileTestFlightConfigDO: testFlight } : {}), UpgradeBaseInfoDO: await toPackageInfo(ctx, p, counts) } };
  },
});

export const deleteMcubeUpgradeResource = defineAction<{ Id?: string; Platform?: string }>({
  name: 'DeleteMcubeUpgradeResource',
  summary: 'Delete an upgrade package with its release tasks and stored files; devices stop being offered it at once.',
  tag: TAG,
  input: { ...commonInput, Id: S.str('package id (a string here)', 32), Platform: S.str('the package\'s platform (checked when given)', 16) },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'DeleteResult',
  result: S.obj(resultWithCode),
  mutates: true,
  errors: ['InvalidId', 'InvalidPlatform', 'UpgradePackageNotFound'],
  handler: async (input, ctx) => {
    const { endedTasks } = await deletePackage(ctx, { id: input.Id, platform: input.Platform });
    return endedTasks ? { ResultMsg: `${endedTasks} unfinished release task(s) of the package were deleted with it.` } : {};
  },
});

