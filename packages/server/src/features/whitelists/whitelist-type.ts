import { BusinessError } from '../../core/errors.js';

/** Stored and answered canonical values of WhitelistType. */
export type WhitelistType = 'normal' | 'regex';

// The vendor never documents the wire values; these aliases cover the console's wording
// ("Normal" = user ids, "Regular expression mode"). Matched case-insensitively.
const ALIASES = new Map<string, WhitelistType>([
  ['normal', 'normal'],
  ['user', 'normal'],
  ['userid', 'normal'],
  ['user_id', 'normal'],
  ['regex', 'regex'],
  ['regexp', 'regex'],
  ['regular', 'regex'],
  ['regular_expression', 'regex'],
]);

export const WHITELIST_TYPE_HELP = 'normal (aliases: user, userid, user_id) or regex (aliases: regexp, regular, regular_expression), case-insensitive';

export function parseWhitelistType(raw: string): WhitelistType {
  const t = ALIASES.get(raw.trim().toLowerCase());
  if (!t) throw new BusinessError('InvalidWhitelistType', `WhitelistType "${raw}" is not supported; use ${WHITELIST_TYPE_HELP}.`);
  return t;
}
