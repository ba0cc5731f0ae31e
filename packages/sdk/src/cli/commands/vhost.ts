import type { Command } from '../command.js';

export const vhostCommands: Command[] = [
  {
    path: ['vhost', 'get'],
    positionals: [0, 0],
    summary: 'Show the virtual domain of the offline packages (QueryMcubeVhost)',
    options: [],
    examples: ['mcube vhost get'],
    async run(ctx) {
      const r = await ctx.client().queryMcubeVhost({});
      ctx.emit(r);
      ctx.say(`${r.queryVhostResult.data || '(not set)'}\n`);
    },
  },
  {
    path: ['vhost', 'set'],
    args: '<domain>',
    positionals: [1, 1],
    summary: 'Set the virtual domain of the offline packages (CreateMcubeVhost)',
    options: [],
    examples: ['mcube vhost set h5app.com'],
    async run(ctx) {
      const r = await ctx.client().createMcubeVhost({ vhost: ctx.positionals[0]! });
      ctx.emit(r);
      ctx.say(`vhost set to ${ctx.positionals[0]}\n`);
    },
  },
];
