import type { McubeClient } from '../client.js';
import type { OptionSpec, OptionValues } from './args.js';
import type { Io } from './io.js';

export interface CommandContext {
  io: Io;
  values: OptionValues;
  positionals: string[];
  /** `--Name value` pairs of `mcube api` */
  params: Array<[string, string]>;
  json: boolean;
  /** the configured client; throws a usage error when endpoint, credentials or app ids are missing */
  client(opts?: { requireApp?: boolean }): McubeClient;
  /** human output on stdout (ignored with --json) */
  say(text: string): void;
  /** machine output on stdout with --json */
  emit(value: unknown): void;
  /** a string option, or a usage error when required and missing */
  str(name: string, required: true): string;
  str(name: string, required?: false): string | undefined;
  /** a whole-number option, or a usage error when it is not one (or required and missing) */
  int(name: string, required: true): number;
  int(name: string, required?: false): number | undefined;
}

export interface Command {
  /** command words, e.g. ['nebula', 'publish'] */
  path: string[];
  /** positional arguments as shown in the usage line, e.g. "<zip|folder>" */
  args?: string;
  positionals: [min: number, max: number];
  summary: string;
  description?: string;
  options: OptionSpec[];
  examples: string[];
  /** collects unknown --Name value pairs instead of refusing them */
  collectParams?: boolean;
  run(ctx: CommandContext): Promise<number | void>;
}
