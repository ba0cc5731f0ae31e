import { UsageError } from './usage-error.js';

export interface OptionSpec {
  /** long name without dashes, e.g. "h5-id" */
  name: string;
  /** placeholder of the value ("<id>"); absent for a flag */
  value?: string;
  /** may be given several times (values collected in order) */
  multi?: boolean;
  short?: string;
  help: string;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

export interface Parsed {
  values: OptionValues;
  positionals: string[];
  /** `--Name value` pairs not in the spec, kept only when `collectUnknown` is set (mcube api) */
  unknown: Array<[string, string]>;
}

function find(specs: OptionSpec[], token: string): OptionSpec | undefined {
  if (token.startsWith('--')) return specs.find((s) => s.name === token.slice(2));
  return specs.find((s) => s.short !== undefined && s.short === token.slice(1));
}

/** Hand-written parser: `--name value`, `--name=value`, flags, `-h`, and `--` ending the options. */
export function parseArgs(argv: string[], specs: OptionSpec[], command: string[], collectUnknown = false): Parsed {
  const values: OptionValues = {};
  const positionals: string[] = [];
  const unknown: Array<[string, string]> = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i]!;
    if (tok === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!tok.startsWith('-') || tok === '-' || /^-\d/.test(tok)) {
      positionals.push(tok);
      continue;
    }
    const eq = tok.indexOf('=');
    const head = tok.startsWith('--') && eq > 0 ? tok.slice(0, eq) : tok;
    const inline = tok.startsWith('--') && eq > 0 ? tok.slice(eq + 1) : undefined;
    const spec = find(specs, head);
    if (!spec) {
      if (collectUnknown && head.startsWith('--') && head.length > 2) {
        const v = inline ?? argv[++i];
        if (v === undefined) throw new UsageError(`${head} needs a value`, command);
        unknown.push([head.slice(2), v]);
        continue;
      }
      throw new UsageError(`unknown option ${head}`, command);
    }
    let v: string | boolean;
    if (spec.value) {
      const next = inline ?? argv[++i];
      if (next === undefined) throw new UsageError(`--${spec.name} needs a value ${spec.value}`, command);
      v = next;
    } else {
      if (inline !== undefined) throw new UsageError(`--${spec.name} takes no value`, command);
      v = true;
    }
    if (spec.multi) values[spec.name] = [...((values[spec.name] as string[] | undefined) ?? []), String(v)];
    else if (values[spec.name] !== undefined && spec.value) throw new UsageError(`--${spec.name} is given more than once`, command);
    else values[spec.name] = v;
  }
  return { values, positionals, unknown };
}

/**
 * Splits the command words (`nebula publish`) from the rest. Global options may
 * come before them; command options come after.
 */
export function splitCommand(argv: string[], globals: OptionSpec[], depth: (words: string[]) => number): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length && words.length < depth(words); i++) {
    const tok = argv[i]!;
    if (tok === '--') break;
    if (tok.startsWith('-')) {
      rest.push(tok);
      const spec = find(globals, tok.includes('=') ? tok.slice(0, tok.indexOf('=')) : tok);
      if (spec?.value && !tok.includes('=') && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    words.push(tok);
  }
  return { words, rest: [...rest, ...argv.slice(i)] };
}
