import { SDK_VERSION } from '../version.js';
import type { OptionSpec } from './args.js';
import type { Command } from './command.js';
import { COMMANDS, GROUPS } from './commands/index.js';
import { GLOBAL_OPTIONS } from './global-options.js';

function optionLines(specs: OptionSpec[]): string {
  const left = specs.map((s) => `${s.short ? `-${s.short}, ` : ''}--${s.name}${s.value ? ` ${s.value}` : ''}`);
  const w = Math.min(34, Math.max(...left.map((l) => l.length)));
  return specs.map((s, i) => `  ${left[i]!.padEnd(w)}  ${s.help}${s.multi ? ' (repeatable)' : ''}`).join('\n');
}

const usageOf = (c: Command) => `mcube ${c.path.join(' ')}${c.args ? ` ${c.args}` : ''}${c.options.length || c.collectParams ? ' [options]' : ''}`;

const FOOTER = `Environment:
  MCUBE_ENDPOINT      server URL (--endpoint)
  MPAAS_AK_ENV        AccessKey ID
  MPAAS_SK_ENV        AccessKey secret
  MPAAS_APP_ID, MPAAS_WORKSPACE_ID, MPAAS_TENANT_ID   common parameters (--app-id, --workspace-id, --tenant-id)

Exit codes:
  0 success   1 local failure (file, package folder)   2 usage or configuration
  3 protocol error (HTTP 4xx/5xx POP error, upload refused)   4 business error (ResultCode not OK)   5 network (unreachable, timeout)`;

export function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  return `mcube ${SDK_VERSION}: command line for the mPaaS Mcube OpenAPI 2020-10-28 (offline packages, release tasks, whitelists)

Usage: mcube <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(w)}  ${c.summary}`).join('\n')}

Global options (any command):
${optionLines(GLOBAL_OPTIONS)}

${FOOTER}

Examples:
  export MCUBE_ENDPOINT=https://mcube.example.com MPAAS_AK_ENV=... MPAAS_SK_ENV=... MPAAS_APP_ID=ALIPUB0000001 MPAAS_WORKSPACE_ID=default
  mcube nebula publish dist --h5-id 12345678 --version 1.0.0.1 --official
  mcube api QueryMcubeVhost

Run "mcube <command> --help" for the options of a command.
`;
}

export function groupHelp(group: string): string {
  const cmds = COMMANDS.filter((c) => c.path[0] === group);
  const w = Math.max(...cmds.map((c) => usageOf(c).length));
  return `mcube ${group}: ${GROUPS[group]}

Commands:
${cmds.map((c) => `  ${usageOf(c).padEnd(w)}  ${c.summary}`).join('\n')}

Examples:
${cmds.map((c) => `  ${c.examples[0]}`).join('\n')}

Run "mcube ${group} <command> --help" for the options of a command.
`;
}

function wrap(text: string, width = 100): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.join('\n');
}

export function commandHelp(c: Command): string {
  return `Usage: ${usageOf(c)}

${c.summary}.${c.description ? `\n\n${wrap(c.description)}` : ''}
${c.options.length ? `\nOptions:\n${optionLines(c.options)}\n` : ''}
Global options:
${optionLines(GLOBAL_OPTIONS)}

Examples:
${c.examples.map((e) => `  ${e}`).join('\n')}
`;
}
