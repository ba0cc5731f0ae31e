import { flag, invalid, isBlank, shown } from '../../nebula/rules/field-error.js';
import { parseGreyConfig, type GreyRule } from '../../nebula/rules/grey-config.js';
import { parseWireDateTime, WIRE_TIME_FORMS } from '../../../core/ids.js';
import { MAX_GREY_NUM, MAX_GREY_WINDOW_MS, parseWhitelistIds, refuseForMode } from '../../nebula/rules/task-fields.js';

/** Wire input of CreateMcubeUpgradeTask (reference §4.B.5). */
export interface CreateUpgradeTaskInput {
  GreyConfigInfo?: string;
  GreyEndtimeData?: string;
  GreyNum?: number;
  HistoryForce?: number;
  Memo?: string;
  PackageInfoId?: number;
  PublishMode?: number;
  PublishType?: number;
  UpgradeContent?: string;
  UpgradeType?: number;
  WhitelistIds?: string;
}

/**
 * Upgrade modes (guide §4.2.2, the codes the client SDK reports): 202 single
 * reminder (once per silence period), 204 multiple reminders (every check),
 * 206 forced upgrade. 201 means "no new version" and 203 / 205 are marked
 * obsolete by the guide, so a task cannot use them.
 */
export const UPGRADE_TYPE = { single: 202, multiple: 204, forced: 206 } as const;
export const UPGRADE_TYPE_NAMES: Record<number, string> = { 202: 'single reminder', 204: 'multiple reminders', 206: 'forced upgrade' };
export const MAX_UPGRADE_CONTENT = 2000;
export const MAX_MEMO = 1024;

export interface UpgradeTaskSpec {
  packageId: number;
  publishType: 2 | 3;
  /** gray: 1 whitelist, 2 time window; official: 4 */
  publishMode: 1 | 2 | 4;
  upgradeType: 202 | 204 | 206;
  historyForce: 0 | 1;
  greyEndtime: number | null;
  greyNum: number;
  whitelistIds: number[];
  greyConfigInfo: string;
  greyRules: GreyRule[];
  memo: string;
  upgradeContent: string;
}

/** Every field rule of CreateMcubeUpgradeTask that needs no database (the package's own limits are checked by the service). */
export function checkUpgradeTaskInput(input: CreateUpgradeTaskInput, now: number): UpgradeTaskSpec {
  if (input.PackageInfoId === undefined || input.PackageInfoId === 0) throw invalid('PackageInfoId', 'is required: the id of the upgrade package.');
  const upgradeType = input.UpgradeType;
  if (upgradeType !== 202 && upgradeType !== 204 && upgradeType !== 206) {
    throw invalid('UpgradeType', `${upgradeType ?? '(empty)'} is not allowed; use 202 (single reminder), 204 (multiple reminders) or 206 (forced upgrade).`);
  }
  const historyForce = flag('HistoryForce', input.HistoryForce, 0);
  const memo = (input.Memo ?? '').trim();
  if (memo.length > MAX_MEMO) throw invalid('Memo', `is longer than ${MAX_MEMO} characters.`);
  const upgradeContent = (input.UpgradeContent ?? '').trim();
  if (upgradeContent.length > MAX_UPGRADE_CONTENT) throw invalid('UpgradeContent', `is longer than ${MAX_UPGRADE_CONTENT} characters.`);
  const whitelistIds = parseWhitelistIds(input.WhitelistIds);
  const endRaw = (input.GreyEndtimeData ?? '').trim();
  const greyNum = input.GreyNum ?? 0;
  const greyConfigInfo = (input.GreyConfigInfo ?? '').trim();
  const base = { packageId: input.PackageInfoId, upgradeType, historyForce, memo, upgradeContent } as const;

  if (input.PublishType === 3) {
    const mode = input.PublishMode ?? 0;
    if (mode !== 0 && mode !== 4) throw invalid('PublishMode', `${mode} is not allowed for an official release (PublishType 3); leave it empty, 0 or 4.`);
    refuseForMode('WhitelistIds', whitelistIds.length > 0, 'whitelist gray releases (PublishType 2, PublishMode 1)');
    refuseForMode('GreyEndtimeData', endRaw !== '', 'time-window gray releases (PublishType 2, PublishMode 2)');
    refuseForMode('GreyNum', greyNum !== 0, 'time-window gray releases (PublishType 2, PublishMode 2)');
    refuseForMode('GreyConfigInfo', greyConfigInfo !== '' && greyConfigInfo !== '[]', 'gray releases (PublishType 2)');
    return { ...base, publishType: 3, publishMode: 4, greyEndtime: null, greyNum: 0, whitelistIds: [], greyConfigInfo: '', greyRules: [] };
  }
  if (input.PublishType !== 2) throw invalid('PublishType', `${input.PublishType ?? '(empty)'} is not allowed; use 2 (gray release) or 3 (official release).`);
  const mode = input.PublishMode;
  if (mode !== 1 && mode !== 2) throw invalid('PublishMode', `${mode ?? '(empty)'} is not allowed for a gray release; use 1 (whitelist) or 2 (time window).`);
  const greyRules = parseGreyConfig(greyConfigInfo, { strict: true });
  let greyEndtime: number | null = null;
  if (mode === 1) {
    if (whitelistIds.length === 0) throw invalid('WhitelistIds', 'is required for a whitelist gray release (PublishMode 1): a comma-separated list of whitelist ids.');
    refuseForMode('GreyEndtimeData', endRaw !== '', 'time-window gray releases (PublishMode 2)');
    refuseForMode('GreyNum', greyNum !== 0, 'time-window gray releases (PublishMode 2)');
  } else {
    refuseForMode('WhitelistIds', whitelistIds.length > 0, 'whitelist gray releases (PublishMode 1)');
    if (isBlank(endRaw)) throw invalid('GreyEndtimeData', 'is required for a time-window gray release (PublishMode 2), as "yyyy-MM-dd HH:mm:ss" (wire zone, UTC unless MCUBE_WIRE_TIME_ZONE says otherwise).');
    greyEndtime = parseWireDateTime(endRaw);
    if (greyEndtime === null) throw invalid('GreyEndtimeData', `${shown(endRaw)} is not a time of the form ${WIRE_TIME_FORMS}.`);
    if (greyEndtime <= now) throw invalid('GreyEndtimeData', `${endRaw} is not in the future.`);
    if (greyEndtime - now >= MAX_GREY_WINDOW_MS) throw invalid('GreyEndtimeData', `${endRaw} is 7 days or more ahead; the window must end within 7 days.`);
    if (input.GreyNum === undefined) throw invalid('GreyNum', `is required for a time-window gray release (PublishMode 2): the number of users, 1 to ${MAX_GREY_NUM}.`);
    if (greyNum < 1 || greyNum > MAX_GREY_NUM) throw invalid('GreyNum', `${greyNum} is out of range; use 1 to ${MAX_GREY_NUM}.`);
  }
  return { ...base, publishType: 2, publishMode: mode, greyEndtime, greyNum, whitelistIds, greyConfigInfo, greyRules };
}
