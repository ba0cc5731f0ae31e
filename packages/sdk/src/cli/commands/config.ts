import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { McubeBusinessError } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { table } from '../io.js';
import { UsageError } from '../usage-error.js';

const KEY = /^[A-Za-z0-9_.:-]{1,128}$/;

function keyArg(ctx: CommandContext, command: string[]): string {
  const key = ctx.positionals[0]!;
  if (!KEY.test(key)) throw new UsageError(`switch key "${key}" may hold only letters, digits and _ . - : (at most 128)`, command);
  return key;
}

/** --value (one value for every device), --values (the JSON array) or --values-file: exactly one. */
async function valuesOf(ctx: CommandContext, command: string[], required: boolean): Promise<string | undefined> {
  const one = ctx.str('value');
  const json = ctx.str('values');
  const file = ctx.str('values-file');
  const given = [one, json, file].filter((v) => v !== undefined).length;
  if (given > 1) throw new UsageError('give one of --value, --values and --values-file', command);
  if (given === 0) {
    if (required) throw new UsageError('give the values: --value <text>, --values <json> or --values-file <path>', command);
    return undefined;
  }
  if (one !== undefined) return JSON.stringify([{ Value: one }]);
  const text = json ?? (await readFile(resolve(ctx.io.cwd, file!), 'utf8'));
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError(`${json !== undefined ? '--values' : `--values-file ${file}`} is not valid JSON`, command);
  }
  return text;
}

const VALUE_OPTIONS = [
  { name: 'value', value: '<text>', help: 'one value for every device' },
  { name: 'values', value: '<json>', help: 'the values as a JSON array: [{"Value":..,"Platform":..,"Type":..,"WhitelistIds":..,"Percent":..,"Rules":[..]}]' },
  { name: 'values-file', value: '<path>', help: 'the same JSON array in a file' },
  { name: 'note', value: '<text>', help: 'note shown in the list' },
];

export const configCommands: Command[] = [
  {
    path: ['config', 'set'],
    args: '<key>',
    positionals: [1, 1],
    summary: 'Create a switch key, or replace its values when it exists (CreateMcubeSwitchConfig / UpdateMcubeSwitchConfig)',
    description: 'Values are tried in order; a device gets the first it matches (platform, whitelist or percentage, advanced rules). A new key is enabled.',
    options: VALUE_OPTIONS,
    examples: [
      'mcube config set Load_Config_Interval --value 600',
      'mcube config set pay.newCheckout --values \'[{"Value":"on","Type":"WHITELIST","WhitelistIds":"17"},{"Value":"off"}]\'',
      'mcube config set home.banner --values-file banner.json --note "spring sale"',
    ],
    async run(ctx) {
      const configKey = keyArg(ctx, this.path);
      const values = (await valuesOf(ctx, this.path, true))!;
      const note = ctx.str('note');
      const client = ctx.client();
      try {
        const r = await client.updateMcubeSwitchConfig({ configKey, values, note });
        ctx.emit(r);
        ctx.say(`switch key ${configKey} updated\n`);
      } catch (err) {
        if (!(err instanceof McubeBusinessError) || err.code !== 'SwitchConfigNotFound') throw err;
        const r = await client.createMcubeSwitchConfig({ configKey, values, note });
        ctx.emit(r);
        ctx.say(`switch key ${configKey} created\n`);
      }
    },
  },
  {
    path: ['config', 'list'],
    positionals: [0, 0],
    summary: 'List switch keys with their values (ListMcubeSwitchConfigs)',
    options: [
      { name: 'keyword', value: '<text>', help: 'part of the key or note' },
      { name: 'page', value: '<n>', help: 'page number, from 1' },
      { name: 'page-size', value: '<n>', help: 'items per page (at most 200)' },
    ],
    examples: ['mcube config list', 'mcube config list --keyword pay --json'],
    async run(ctx) {
      const r = await ctx.client().listMcubeSwitchConfigs({ keyword: ctx.str('keyword'), pageNum: ctx.int('page'), pageSize: ctx.int('page-size') });
      ctx.emit(r);
      const res = r.listSwitchConfigResult;
      const shown = (v: { value?: string; type?: string; platform?: string; percent?: number }) =>
        `${v.value}${v.type === 'PERCENT' ? ` (${v.percent}%)` : v.type === 'WHITELIST' ? ' (whitelist)' : ''}${v.platform && v.platform !== 'ALL' ? ` [${v.platform}]` : ''}`;
      ctx.say(
        table(
          ['KEY', 'ENABLED', 'VALUES', 'NOTE', 'MODIFIED'],
          (res.switchConfigs ?? []).map((c) => [c.configKey, c.enabled ? 'yes' : 'no', (c.values ?? []).map(shown).join(' | '), c.note, c.gmtModified]),
        ),
      );
      if (res.hasMore) ctx.say(`(page ${res.currentPage} of ${res.totalCount} keys; --page ${(res.currentPage ?? 1) + 1} for more)\n`);
    },
  },
  ...(['enable', 'disable'] as const).map(
    (verb): Command => ({
      path: ['config', verb],
      args: '<key>',
      positionals: [1, 1],
      summary: `${verb === 'enable' ? 'Activate' : 'Deactivate'} a switch key (ChangeMcubeSwitchConfigStatus)${verb === 'disable' ? '; devices stop receiving it' : ''}`,
      options: [],
      examples: [`mcube config ${verb} pay.newCheckout`],
      async run(ctx) {
        const configKey = keyArg(ctx, this.path);
        const r = await ctx.client().changeMcubeSwitchConfigStatus({ configKey, enabled: verb === 'enable' });
        ctx.emit(r);
        ctx.say(`switch key ${configKey} ${verb}d\n`);
      },
    }),
  ),
  {
    path: ['config', 'delete'],
    args: '<key>',
    positionals: [1, 1],
    summary: 'Delete a switch key (DeleteMcubeSwitchConfig)',
    options: [],
    examples: ['mcube config delete pay.newCheckout'],
    async run(ctx) {
      const configKey = keyArg(ctx, this.path);
      const r = await ctx.client().deleteMcubeSwitchConfig({ configKey });
      ctx.emit(r);
      ctx.say(`switch key ${configKey} deleted\n`);
    },
  },
  {
    path: ['config', 'export'],
    positionals: [0, 0],
    summary: 'Write every switch key as the JSON file "config import" reads (ExportMcubeSwitchConfigs)',
    options: [{ name: 'out', value: '<path>', help: 'file to write (default: stdout)' }],
    examples: ['mcube config export --out switches.json', 'mcube config export > switches.json'],
    async run(ctx) {
      const r = await ctx.client().exportMcubeSwitchConfigs({});
      const content = r.exportSwitchConfigResult.content ?? '[]';
      const out = ctx.str('out');
      if (out) {
        await writeFile(resolve(ctx.io.cwd, out), content + '\n');
        ctx.emit(r);
        ctx.say(`${r.exportSwitchConfigResult.count} switch keys written to ${out}\n`);
      } else if (ctx.json) ctx.emit(r);
      else ctx.say(content + '\n');
    },
  },
  {
    path: ['config', 'import'],
    args: '<file>',
    positionals: [1, 1],
    summary: 'Add the switch keys of an export file; existing keys are skipped (ImportMcubeSwitchConfigs)',
    options: [],
    examples: ['mcube config import switches.json'],
    async run(ctx) {
      const content = await readFile(resolve(ctx.io.cwd, ctx.positionals[0]!), 'utf8');
      const r = await ctx.client().importMcubeSwitchConfigs({ content });
      ctx.emit(r);
      const res = r.importSwitchConfigResult;
      ctx.say(`imported ${(res.importedKeys ?? []).length}, skipped ${(res.skippedKeys ?? []).length} existing${res.skippedKeys?.length ? `: ${res.skippedKeys.join(', ')}` : ''}\n`);
    },
  },
];
