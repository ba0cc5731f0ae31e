import { SDK_VERSION } from '../version.js';
import { parseArgs, splitCommand } from './args.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { makeContext } from './context.js';
import { errorJson, errorLine, exitCodeOf, EXIT } from './exit-codes.js';
import { GLOBAL_OPTIONS } from './global-options.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { processIo, type Io } from './io.js';
import { UsageError } from './usage-error.js';

const depth = (words: string[]) => (words[0] === 'help' ? 3 : words[0] && words[0] in GROUPS ? 2 : 1);
const find = (words: string[]) => COMMANDS.find((c) => c.path.length === words.length && c.path.every((w, i) => w === words[i]));

/** With --json, stdout holds the error document and nothing else. */
function writeJsonError(io: Io, err: unknown): void {
  io.stdout.write(JSON.stringify(errorJson(err), null, 2) + '\n');
}

/** Runs one command line; returns the exit code (see EXIT). */
export async function runCli(argv: string[], io: Io = processIo()): Promise<number> {
  const json = argv.includes('--json');
  try {
    const { words, rest } = splitCommand(argv, GLOBAL_OPTIONS, depth);
    const wantsHelp = rest.includes('--help') || rest.includes('-h');
    if (words[0] === 'help' || !words.length) {
      if (!words.length && rest.includes('--version')) {
        io.stdout.write(`${SDK_VERSION}\n`);
        return EXIT.ok;
      }
      const topic = words.slice(words[0] === 'help' ? 1 : 0);
      const cmd = find(topic);
      let text: string;
      if (cmd) text = commandHelp(cmd);
      else if (topic.length === 1 && topic[0]! in GROUPS) text = groupHelp(topic[0]!);
      else if (topic.length) throw new UsageError(`unknown command "${topic.join(' ')}"`);
      else text = mainHelp();
      if (wantsHelp || words[0] === 'help' || !argv.length) {
        io.stdout.write(text);
        return EXIT.ok;
      }
      // options but no command: a usage error, so stdout stays free for --json
      io.stderr.write(text);
      if (json) writeJsonError(io, new UsageError('no command given'));
      return EXIT.usage;
    }
    const cmd = find(words);
    if (!cmd) {
      if (words.length === 1 && words[0]! in GROUPS) {
        io[wantsHelp ? 'stdout' : 'stderr'].write(groupHelp(words[0]!));
        if (!wantsHelp && json) writeJsonError(io, new UsageError(`"${words[0]}" needs a command`, [words[0]!]));
        return wantsHelp ? EXIT.ok : EXIT.usage;
      }
      throw new UsageError(`unknown command "${words.join(' ')}"`, words[0]! in GROUPS ? [words[0]!] : []);
    }
    if (wantsHelp) {
      io.stdout.write(commandHelp(cmd));
      return EXIT.ok;
    }
    const parsed = parseArgs(rest, [...GLOBAL_OPTIONS, ...cmd.options], cmd.path, cmd.collectParams);
    const [min, max] = cmd.positionals;
    if (parsed.positionals.length < min) throw new UsageError(`missing ${cmd.args ?? 'argument'}`, cmd.path);
    if (parsed.positionals.length > max) throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`, cmd.path);
    const code = await cmd.run(makeContext(io, parsed.values, parsed.positionals, parsed.unknown, cmd.path));
    return code ?? EXIT.ok;
  } catch (err) {
    io.stderr.write(errorLine(err) + '\n');
    if (err instanceof UsageError) io.stderr.write(`Run "mcube ${err.command.length ? err.command.join(' ') + ' ' : ''}--help" for usage.\n`);
    if (json) writeJsonError(io, err);
    return exitCodeOf(err);
  }
}
