import safeRegex from 'safe-regex2';

/** The vendor console allows up to 20 expressions per regular-expression whitelist. */
export const MAX_REGEX_PER_LIST = 20;
export const MAX_REGEX_LENGTH = 256;

/**
 * The one compilation of a whitelist expression, shared with the delivery
 * engine: anchored so the expression must match the whole user id, as Java's
 * String.matches does (DELIVERY-RULES.md). No flags: case-sensitive, and `.`
 * never crosses a line break (ids hold none).
 */
export function compileWhitelistRegex(expr: string): RegExp {
  return new RegExp(`^(?:${expr})$`);
}

/**
 * Why an expression is refused, or null when it is accepted. Rules, in order:
 * 1. 1..256 characters, no control characters;
 * 2. compiles as a JavaScript RegExp, both alone and anchored;
 * 3. no backreferences (\1..\9, \k<name>) and no lookarounds ((?=, (?!, (?<=, (?<!):
 *    they defeat the backtracking analysis below and have no place in id matching;
 * 4. safe-regex2 accepts it: star height at most 1 (no nested quantifiers such as
 *    (a+)+) and at most 25 quantifiers. Expressions it cannot parse are refused too.
 */
export function regexProblem(expr: string): string | null {
  if (expr.length === 0) return 'an expression must not be empty';
  if (expr.length > MAX_REGEX_LENGTH) return `an expression has at most ${MAX_REGEX_LENGTH} characters`;
  if (/[\u0000-\u001f\u007f]/.test(expr)) return 'an expression must not contain control characters';
  try {
    new RegExp(expr);
    compileWhitelistRegex(expr);
  } catch (err) {
    return `not a valid regular expression (${(err as Error).message})`;
  }
  const construct = forbiddenConstruct(expr);
  if (construct) return `${construct} are not allowed`;
  if (!safeRegex(expr)) return 'it could backtrack catastrophically (nested quantifiers such as (a+)+ or too many quantifiers)';
  return null;
}

/** Scans the pattern source, skipping escapes and character classes, for constructs rule 3 refuses. */
function forbiddenConstruct(src: string): string | null {
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const next = src[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || (next === 'k' && src[i + 2] === '<'))) return 'backreferences (\\1, \\k<name>)';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(' && /^\(\?(=|!|<=|<!)/.test(src.slice(i, i + 4))) return 'lookarounds ((?=, (?!, (?<=, (?<!)';
  }
  return null;
}
