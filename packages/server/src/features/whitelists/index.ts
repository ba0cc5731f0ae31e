import type { ActionDef } from '../../core/registry.js';
import { whitelistActionList } from './whitelist-actions.js';

export { compileWhitelistRegex, MAX_REGEX_PER_LIST, PROBE_ID_LENGTH, regexProblem, runsInLinearTime } from './regex-rules.js';
export { WhitelistService } from './whitelist-service.js';
export type { WhitelistType } from './whitelist-type.js';

export const whitelistActions: ActionDef<any>[] = whitelistActionList;
