import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import safeRegex from 'safe-regex2';

// Whitelist expressions run against device-supplied ids on the request path, and no
// static check catches every expression that backtracks badly (six (?:q\d)* in a row
// took 10 s on a 255-character id). With these V8 flags a regular expression that
// backtracks more than 50,000 times continues on V8's linear-time engine, and the 'l'
// flag tells whether an expression can run there (regexProblem refuses most that cannot).
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--enable-experimental-regexp-engine');

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
  return new RegExp(`^(?:${javaSpaces(expr)})$`);
}

/** Java's \s: the ASCII spaces only. JavaScript's also takes Unicode ones (U+00A0, U+2003, U+3000, ...). */
const JAVA_SPACE = ' \\t\\n\\x0B\\f\\r';

/**
 * The expression with \s and \S as Java reads them (\s inside a class spelt out; \S inside
 * a class, which has no such spelling, is refused by forbiddenConstruct).
 */
function javaSpaces(src: string): string {
  if (!src.includes('\\s') && !src.includes('\\S')) return src;
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '\\' && i + 1 < src.length) {
      const next = src[i + 1]!;
      if (next === 's') out += inClass ? JAVA_SPACE : `[${JAVA_SPACE}]`;
      else if (next === 'S' && !inClass) out += `[^${JAVA_SPACE}]`;
      else out += c + next;
      i++;
      continue;
    }
    if (inClass && c === ']') inClass = false;
    else if (!inClass && c === '[') inClass = true;
    out += c;
  }
  return out;
}

/**
 * Why an expression is refused, or null when it is accepted. Rules, in order:
 * 1. 1..256 characters, no control characters;
 * 2. compiles as a JavaScript RegExp, both alone and anchored;
 * 3. no backreferences (\1..\9, \k<name>) and no lookarounds ((?=, (?!, (?<=, (?<!):
 *    they defeat the backtracking analysis below and have no place in id matching;
 *    no construct that Java (the vendor's dialect) and JavaScript read differently
 *    and that JavaScript would silently take as literal text: escapes of letters with
 *    no JavaScript meaning (\p{L}, \A, \z, \Q...\E, \h, ...), \x{..} and short \u, and
 *    Java's nested or intersected classes ([a[bc]], [a-z&&[^aeiou]]), so an operator's
 *    Java expression is refused rather than stored with another meaning;
 * 4. runs on V8's linear-time engine (so excessive backtracking falls back to it, see
 *    above), or, when it cannot (a repetition count above 16), has such counts only on
 *    one character or class and repeats at most twice (*, +, {n,m}): that stays
 *    quadratic on a 256-character id, where (a|a){20} would take a million steps;
 * 5. safe-regex2 accepts it: star height at most 1 (no nested quantifiers such as
 *    (a+)+) and at most 25 quantifiers. Expressions it cannot parse are refused too;
 * 6. star height misses overlapping alternatives ((a|aa)+) and polynomial blow-ups
 *    (.*a.*a.*a.*b), so the anchored expression is also run against adversarial ids of
 *    256 characters (each character and each literal run of the pattern repeated, then a
 *    character no id holds) and refused when they do not finish within a time budget.
 */
export async function regexProblem(expr: string): Promise<string | null> {
  const why = staticRegexProblem(expr);
  if (why) return why;
  if (await slowOnProbes(expr)) return 'it could backtrack catastrophically (it is too slow on repetitive user ids; overlapping alternatives such as (a|aa)+ or many .* do that)';
  return null;
}

/** Rules 1 to 5 of regexProblem: everything but running the expression. */
export function staticRegexProblem(expr: string): string | null {
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
  if (construct) return construct;
  if (!runsInLinearTime(expr)) {
    const { count, largeOnGroup } = repetitions(expr);
    if (largeOnGroup) return 'it could backtrack catastrophically (a repetition count above 16 must apply to one character or class, not to a group)';
    if (count > 2) return 'it could backtrack catastrophically (repetition counts above 16 are allowed in expressions with at most two repetitions)';
  }
  if (!safeRegex(expr)) return 'it could backtrack catastrophically (nested quantifiers such as (a+)+ or too many quantifiers)';
  return null;
}

/** Whether the anchored expression can run on V8's linear-time engine (so excessive backtracking falls back to it). */
export function runsInLinearTime(expr: string): boolean {
  try {
    new RegExp(compileWhitelistRegex(expr).source, 'l');
    return true;
  } catch {
    return false;
  }
}

/**
 * Quantifiers that repeat more than once (*, +, {n,}, {n,m} with m > 1, {n} with n > 1),
 * outside escapes and classes, and whether a count above 16 follows a group.
 */
function repetitions(src: string): { count: number; largeOnGroup: boolean } {
  let count = 0;
  let largeOnGroup = false;
  let inClass = false;
  let afterGroup = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
      afterGroup = false;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '*' || c === '+') count++;
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
      if (m) {
        const max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
        if (max > 1) count++;
        if (max > 16 && afterGroup) largeOnGroup = true;
        i += m[0].length - 1;
      }
    }
    if (c === '[') inClass = true;
    afterGroup = c === ')';
  }
  return { count, largeOnGroup };
}

/** Longest user id probed; the delivery engine matches no longer id against an expression. */
export const PROBE_ID_LENGTH = 256;
const PROBE_BUDGETS_MS = [100, 500];

function probesFor(expr: string): string[] {
  const units = new Set<string>(['a', 'A', '0', '_', '-', '.', '@', ' ']);
  for (const c of expr) if (c > ' ' && c < '\u007f') units.add(c);
  for (const run of expr.match(/[A-Za-z0-9_@.-]{2,8}/g) ?? []) units.add(run);
  const probes: string[] = [];
  for (const u of units) {
    const body = u.repeat(Math.floor((PROBE_ID_LENGTH - 1) / u.length));
    probes.push(body + '\n', body + '\u0001');
  }
  return probes;
}

// The probes run on a worker thread: an expression that is refused runs for the whole budget (0.6 s),
// which on the main thread held every request of the node, other tenants' device checks included.
const PROBE_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ source, probes }) => {
  const re = new RegExp(source);
  for (const p of probes) re.test(p);
  parentPort.postMessage('done');
});
`;

/**
 * One worker, one probe run at a time (so a budget measures that run only). A run
 * past its budget is stopped by terminating the worker; the next run starts a new one.
 */
const probeRunner = (() => {
  let worker: Promise<Worker> | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  /** the worker, once it runs code: its start-up (tens of ms) is not counted in a budget */
  const ready = (): Promise<Worker> => {
    if (worker) return worker;
    const started: Promise<Worker> = new Promise<Worker>((resolve, reject) => {
      const w = new Worker(PROBE_WORKER, { eval: true });
      w.unref();
      w.once('online', () => resolve(w));
      w.once('error', reject);
      // a worker that is gone (terminated after a timeout, or crashed) is replaced by the next run
      w.once('exit', () => {
        if (worker === started) worker = null;
        reject(new Error('the regex probe worker stopped'));
      });
    });
    worker = started;
    return started;
  };
  const runOnce = async (source: string, probes: string[], budgetMs: number): Promise<boolean> => {
    const pending = ready();
    const w = await pending;
    return new Promise((resolve, reject) => {
      const done = (finished: boolean, err?: Error) => {
        clearTimeout(timer);
        w.off('message', onMessage).off('error', onError).off('exit', onExit);
        if ((!finished || err) && worker === pending) {
          worker = null;
          void w.terminate();
        }
        if (err) reject(err);
        else resolve(finished);
      };
      const onMessage = () => done(true);
      const onError = (e: Error) => done(false, e);
      const onExit = () => done(false, new Error('the regex probe worker stopped'));
      w.on('message', onMessage).on('error', onError).on('exit', onExit);
      const timer = setTimeout(() => done(false), budgetMs);
      w.postMessage({ source, probes });
    });
  };
  return {
    /** whether the probes finished within the budget */
    run(source: string, probes: string[], budgetMs: number): Promise<boolean> {
      const run = queue.then(() => runOnce(source, probes, budgetMs));
      queue = run.catch(() => undefined);
      return run;
    },
  };
})();

/**
 * Runs the probes against the anchored expression. A first timeout is retried with a
 * larger budget, so a busy machine does not refuse a harmless expression; a
 * catastrophic one fails both.
 */
async function slowOnProbes(expr: string): Promise<boolean> {
  const source = compileWhitelistRegex(expr).source;
  const probes = probesFor(expr);
  for (const budget of PROBE_BUDGETS_MS) if (await probeRunner.run(source, probes, budget)) return false;
  return true;
}

/** Letters after a backslash that JavaScript (without the u flag) gives a meaning; any other is read as the letter itself. */
const JS_ESCAPE_LETTERS = new Set('dDwWsSbBnrtfvcxuk');

/** Scans the pattern source, skipping escapes and character classes, for constructs rule 3 refuses; the reason, or null. */
function forbiddenConstruct(src: string): string | null {
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const next = src[i + 1] ?? '';
      if (!inClass && (/[1-9]/.test(next) || (next === 'k' && src[i + 2] === '<'))) return 'backreferences (\\1, \\k<name>) are not allowed';
      if (inClass && next === 'S') return '\\S inside a character class is not supported (JavaScript and Java read it differently; spell the characters out)';
      if (/[A-Za-z]/.test(next) && !JS_ESCAPE_LETTERS.has(next)) {
        return `\\${next} is not supported: expressions are JavaScript regular expressions, where it would mean the letter "${next}" (Java's \\p{..}, \\A, \\z, \\Q..\\E, \\h and the like have no equivalent here; the whole id is always matched)`;
      }
      if (next === 'x' && !/^[0-9A-Fa-f]{2}$/.test(src.slice(i + 2, i + 4))) return '\\x must be followed by two hex digits (\\x{...} is Java only)';
      if (next === 'u' && !/^[0-9A-Fa-f]{4}$/.test(src.slice(i + 2, i + 6))) return '\\u must be followed by four hex digits';
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[') return 'a "[" inside a character class must be escaped (Java\'s nested classes such as [a[bc]] and [[:digit:]] are not supported)';
      else if (c === '&' && src[i + 1] === '&') return '"&&" inside a character class is not supported (Java class intersection)';
      continue;
    }
    if (c === '[') {
      inClass = true;
      // a "]" right after "[" or "[^" closes nothing in Java but ends an empty class in JavaScript
      if (src[i + 1] === ']' || (src[i + 1] === '^' && src[i + 2] === ']')) return 'an empty character class ([] or [^]) is not supported';
    } else if (c === '(' && /^\(\?(=|!|<=|<!)/.test(src.slice(i, i + 4))) return 'lookarounds ((?=, (?!, (?<=, (?<!) are not allowed';
  }
  return null;
}
