import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { table } from '../io.js';
import { UsageError } from '../usage-error.js';

function listId(raw: string, command: string[]): string {
  if (!/^\d+$/.test(raw)) throw new UsageError(`whitelist id "${raw}" is not a number`, command);
  return raw;
}

export const whitelistCommands: Command[] = [
  {
    path: ['whitelist', 'create'],
    positionals: [0, 0],
    summary: 'Create an empty whitelist (CreateMcubeWhitelist); prints its id',
    options: [
      { name: 'name', value: '<name>', help: 'unique name (required)' },
      { name: 'type', value: '<normal|regex>', help: 'user ids, or regular expressions matching whole user ids (default normal)' },
    ],
    examples: ['mcube whitelist create --name beta-testers', 'ID=$(mcube whitelist create --name qa --json | jq -r .createWhitelistResult.whitelistId)'],
    async run(ctx) {
      const r = await ctx.client().createMcubeWhitelist({ whiteListName: ctx.str('name', true), whitelistType: ctx.str('type') ?? 'normal' });
      ctx.emit(r);
      ctx.say(`${r.createWhitelistResult.whitelistId}\n`);
    },
  },
  {
    path: ['whitelist', 'add'],
    args: '<id>',
    positionals: [1, 1],
    summary: 'Add user ids (or expressions) inline or from a text file (UpdateMcubeWhitelist)',
    options: [
      { name: 'ids', value: '<a,b,c>', help: 'user ids separated by commas' },
      { name: 'file', value: '<path>', help: 'text file, one id per line (uploaded first)' },
    ],
    examples: ['mcube whitelist add 17 --ids u1001,u1002', 'mcube whitelist add 17 --file testers.txt'],
    async run(ctx) {
      const id = listId(ctx.positionals[0]!, this.path);
      const ids = ctx.str('ids');
      const file = ctx.str('file');
      if (!ids && !file) throw new UsageError('give --ids or --file', this.path);
      const client = ctx.client();
      let ossUrl: string | undefined;
      if (file) {
        const token = await client.getMcubeFileToken({ onexFlag: true });
        ossUrl = await client.upload(token.getFileTokenResult.fileToken ?? {}, resolve(ctx.io.cwd, file), { contentType: 'text/plain' });
      }
      const r = await client.updateMcubeWhitelist({ id, keyIds: ids, ossUrl, onexFlag: true });
      ctx.emit(r);
      const info = r.addWhitelistResult.addWhitelistInfo ?? {};
      ctx.say(`added ${info.successNum ?? 0}, refused ${info.failNum ?? 0}${info.failUserIds ? `: ${info.failUserIds}` : ''}\n`);
    },
  },
  {
    path: ['whitelist', 'list'],
    positionals: [0, 0],
    summary: 'List whitelists (ListMcubeWhitelists)',
    options: [
      { name: 'name', value: '<text>', help: 'part of the name' },
      { name: 'page', value: '<n>', help: 'page number, from 1' },
      { name: 'page-size', value: '<n>', help: 'items per page (at most 200)' },
    ],
    examples: ['mcube whitelist list', 'mcube whitelist list --name beta --json'],
    async run(ctx) {
      const r = await ctx.client().listMcubeWhitelists({ whitelistName: ctx.str('name'), pageNum: ctx.int('page'), pageSize: ctx.int('page-size') });
      ctx.emit(r);
      const res = r.listWhitelistResult;
      ctx.say(table(['ID', 'NAME', 'TYPE', 'ENTRIES', 'MODIFIED'], (res.whitelists ?? []).map((w) => [w.id, w.whiteListName, w.whitelistType, w.whiteListCount, w.gmtModified])));
      if (res.hasMore) ctx.say(`(page ${res.currentPage} of ${res.totalCount} whitelists; --page ${(res.currentPage ?? 1) + 1} for more)\n`);
    },
  },
  {
    path: ['whitelist', 'remove'],
    args: '<id> <value>',
    positionals: [2, 2],
    summary: 'Remove one user id or expression from a whitelist (DeleteMdsWhitelistContent)',
    options: [],
    examples: ['mcube whitelist remove 17 u1001'],
    async run(ctx) {
      const id = listId(ctx.positionals[0]!, this.path);
      const r = await ctx.client().deleteMdsWhitelistContent({ whitelistId: id, whitelistValue: ctx.positionals[1]! });
      ctx.emit(r);
      ctx.say(`removed ${ctx.positionals[1]} from whitelist ${id}\n`);
    },
  },
  {
    path: ['whitelist', 'delete'],
    args: '<id>',
    positionals: [1, 1],
    summary: 'Delete a whitelist (DeleteMcubeWhitelist); refused while an unfinished task uses it',
    options: [],
    examples: ['mcube whitelist delete 17'],
    async run(ctx) {
      const id = listId(ctx.positionals[0]!, this.path);
      const r = await ctx.client().deleteMcubeWhitelist({ id: Number(id) });
      ctx.emit(r);
      ctx.say(`whitelist ${id} deleted\n`);
    },
  },
];
