import { parseWireDateTime, WIRE_TIME_FORMS } from '../../../core/ids.js';
import { flag, invalid, isBlank, shown } from './field-error.js';
import { parseGreyConfig, type GreyRule } from './grey-config.js';

/** Wire input of CreateMcubeNebulaTask (the vendor's full field set; unused fields are accepted and ignored). */
export interface CreateTaskInput {
  AppCode?: string;
  BizType?: string;
  Creator?: string;
  GmtCreate?: string;
  GmtModified?: string;
  GmtModifiedStr?: string;
  GreyConfigInfo?: string;
  GreyEndtime?: string;
  GreyEndtimeData?: string;
  GreyEndtimeStr?: string;
  GreyNum?: number;
  GreyUrl?: string;
  Id?: number;
  Memo?: string;
  Modifier?: string;
  PackageId?: number;
  Percent?: number;
  Platform?: string;
  ProductId?: string;
  ProductVersion?: string;
  PublishMode?: number;
  PublishType?: number;
  ReleaseVersion?: string;
  ResIds?: string;
  SerialVersionUID?: number;
  Status?: number;
  SyncMode?: string;
  SyncResult?: string;
  TaskName?: string;
  TaskStatus?: number;
  TaskType?: number;
  TaskVersion?: number;
  UpgradeNoticeNum?: number;
  UpgradeProgress?: string;
  WhitelistIds?: string;
}

export const PUBLISH_TYPE = { gray: 2, official: 3 } as const;
export const PUBLISH_MODE = { whitelist: 1, timeWindow: 2, percentage: 3, full: 4 } as const;
export const TASK_STATUS = { toBeReleased: 0, releasing: 1, finished: 2, paused: 3 } as const;
export const TASK_TYPE = { normal: 0, rollback: 1 } as const;

/**
 * Upper bound of GreyNum (users admitted by one time-window task). Every node
 * holds a releasing task's admitted users in memory (about 77 MB a million);
 * at the former 10,000,000 one task could take 0.8 GB on every node. A release
 * to more users is a percentage or an official release.
 */
export const MAX_GREY_NUM = 1_000_000;
export const MAX_GREY_WINDOW_MS = 7 * 24 * 3600 * 1000;

export interface TaskSpec {
  packageId: number;
  publishType: 2 | 3;
  publishMode: 1 | 2 | 3 | 4;
  taskType: 0 | 1;
  taskStatus: 0 | 1;
  /** epoch ms, time-window tasks only */
  greyEndtime: number | null;
  greyNum: number;
  /** whitelist ids in the given order, duplicates removed (existence is checked by the service) */
  whitelistIds: number[];
  /** the JSON text as given, '' when none */
  greyConfigInfo: string;
  greyRules: GreyRule[];
  percent: number;
  memo: string;
}

/** `WhitelistIds`: comma-separated ids, duplicates dropped, at most 50 (also for upgrade tasks). */
export function parseWhitelistIds(raw: string | undefined): number[] {
  const text = (raw ?? '').trim();
  if (text === '') return [];
  const out: number[] = [];
  for (const part of text.split(',')) {
    const p = part.trim();
    if (!/^\d{1,15}$/.test(p) || Number(p) === 0) throw invalid('WhitelistIds', `${shown(p)} is not a whitelist id; give a comma-separated list of ids.`);
    const id = Number(p);
    if (!out.includes(id)) out.push(id);
  }
  if (out.length > 50) throw invalid('WhitelistIds', `names ${out.length} whitelists; at most 50 are allowed.`);
  return out;
}

/** Refuses a field given for a publish mode it does not belong to. */
export function refuseForMode(field: string, given: boolean, what: string): void {
  if (given) throw invalid(field, `applies only to ${what}; leave it empty here.`);
}

/** Every field rule of CreateMcubeNebulaTask that needs no database. */
export function checkTaskInput(input: CreateTaskInput, now: number): TaskSpec {
  if (input.Id !== undefined && input.Id !== 0) throw invalid('Id', `${input.Id} is not allowed; only 0 (create) is accepted.`);
  if (input.PackageId === undefined || input.PackageId === 0) throw invalid('PackageId', 'is required: the id of the offline package (NebulaResourceId).');
  if (!isBlank(input.BizType) && input.BizType!.trim() !== 'nebula') throw invalid('BizType', `${shown(input.BizType)} is not allowed; use nebula or leave it empty.`);
  const memo = (input.Memo ?? '').trim();
  if (memo.length > 1024) throw invalid('Memo', 'is longer than 1024 characters.');
  const taskType = flag('TaskType', input.TaskType, 0);
  let taskStatus: 0 | 1 = TASK_STATUS.releasing;
  if (input.TaskStatus !== undefined) {
    if (input.TaskStatus !== 0 && input.TaskStatus !== 1) {
      throw invalid('TaskStatus', `${input.TaskStatus} is not allowed for a new task; use 0 (to be released) or 1 (releasing, the default).`);
    }
    taskStatus = input.TaskStatus;
  }
  const whitelistIds = parseWhitelistIds(input.WhitelistIds);
  const endRaw = [input.GreyEndtimeData, input.GreyEndtimeStr, input.GreyEndtime].find((v) => !isBlank(v))?.trim() ?? '';
  const greyNum = input.GreyNum ?? 0;
  const percent = input.Percent ?? 0;
  const greyConfigInfo = (input.GreyConfigInfo ?? '').trim();

  if (input.PublishType === PUBLISH_TYPE.official) {
    const mode = input.PublishMode ?? 0;
    if (mode !== 0 && mode !== PUBLISH_MODE.full) {
      throw invalid('PublishMode', `${mode} is not allowed for an official release (PublishType 3); leave it empty, 0 or 4.`);
    }
    refuseForMode('WhitelistIds', whitelistIds.length > 0, 'whitelist gray releases (PublishType 2, PublishMode 1)');
    refuseForMode('GreyEndtimeData', endRaw !== '', 'time-window gray releases (PublishType 2, PublishMode 2)');
    refuseForMode('GreyNum', greyNum !== 0, 'time-window gray releases (PublishType 2, PublishMode 2)');
    refuseForMode('Percent', percent !== 0, 'percentage gray releases (PublishType 2, PublishMode 3)');
    refuseForMode('GreyConfigInfo', greyConfigInfo !== '' && greyConfigInfo !== '[]', 'gray releases (PublishType 2)');
    return { packageId: input.PackageId, publishType: 3, publishMode: 4, taskType, taskStatus, greyEndtime: null, greyNum: 0, whitelistIds: [], greyConfigInfo: '', greyRules: [], percent: 0, memo };
  }
  if (input.PublishType !== PUBLISH_TYPE.gray) {
    throw invalid('PublishType', `${input.PublishType ?? '(empty)'} is not allowed; use 2 (gray release) or 3 (official release).`);
  }
  const mode = input.PublishMode;
  if (mode !== 1 && mode !== 2 && mode !== 3) {
    throw invalid('PublishMode', `${mode ?? '(empty)'} is not allowed for a gray release; use 1 (whitelist), 2 (time window) or 3 (percentage).`);
  }
  const greyRules = parseGreyConfig(greyConfigInfo, { strict: true });
  let greyEndtime: number | null = null;
  if (mode === PUBLISH_MODE.whitelist) {
    if (whitelistIds.length === 0) throw invalid('WhitelistIds', 'is required for a whitelist gray release (PublishMode 1): a comma-separated list of whitelist ids.');
  } else refuseForMode('WhitelistIds', whitelistIds.length > 0, 'whitelist gray releases (PublishMode 1)');
  if (mode === PUBLISH_MODE.timeWindow) {
    if (endRaw === '') throw invalid('GreyEndtimeData', 'is required for a time-window gray release (PublishMode 2), as "yyyy-MM-dd HH:mm:ss" (wire zone, UTC unless MCUBE_WIRE_TIME_ZONE says otherwise).');
    greyEndtime = parseWireDateTime(endRaw);
    if (greyEndtime === null) throw invalid('GreyEndtimeData', `${shown(endRaw)} is not a time of the form ${WIRE_TIME_FORMS}.`);
    if (greyEndtime <= now) throw invalid('GreyEndtimeData', `${endRaw} is not in the future.`);
    if (greyEndtime - now >= MAX_GREY_WINDOW_MS) throw invalid('GreyEndtimeData', `${endRaw} is 7 days or more ahead; the window must end within 7 days.`);
    if (input.GreyNum === undefined) throw invalid('GreyNum', `is required for a time-window gray release (PublishMode 2): the number of users, 1 to ${MAX_GREY_NUM}.`);
    if (greyNum < 1 || greyNum > MAX_GREY_NUM) throw invalid('GreyNum', `${greyNum} is out of range; use 1 to ${MAX_GREY_NUM}.`);
  } else {
    refuseForMode('GreyEndtimeData', endRaw !== '', 'time-window gray releases (PublishMode 2)');
    refuseForMode('GreyNum', greyNum !== 0, 'time-window gray releases (PublishMode 2)');
  }
  if (mode === PUBLISH_MODE.percentage) {
    if (input.Percent === undefined) throw invalid('Percent', 'is required for a percentage gray release (PublishMode 3): 1 to 100.');
    if (percent < 1 || percent > 100) throw invalid('Percent', `${percent} is out of range; use 1 to 100.`);
  } else refuseForMode('Percent', percent !== 0, 'percentage gray releases (PublishMode 3)');
  return { packageId: input.PackageId, publishType: 2, publishMode: mode, taskType, taskStatus, greyEndtime, greyNum, whitelistIds, greyConfigInfo, greyRules, percent, memo };
}
