import { businessFailure } from '../../business.js';
import { fromWire } from '../../wire-mapping.js';
import type { Command } from '../command.js';
import { errorLine, EXIT } from '../exit-codes.js';
import { UsageError } from '../usage-error.js';

export const apiCommand: Command = {
  path: ['api'],
  args: '<Action>',
  positionals: [1, 1],
  collectParams: true,
  summary: 'Sign and send any action; print the JSON answer as sent (like "aliyun mpaas <Action>")',
  description:
    'Parameters use their wire names: --H5Id 12345678. AppId, WorkspaceId and TenantId come from the global options or the environment ' +
    'unless given. The answer is printed unchanged (PascalCase). A business failure (ResultCode other than OK) still prints the answer, ' +
    'then exits 4.',
  options: [],
  examples: [
    'mcube api QueryMcubeVhost',
    'mcube api ListMcubeNebulaResources --H5Id 12345678 --PageSize 50',
    'mcube api CreateMcubeNebulaTask --PackageId 42 --Id 0 --PublishType 3 --BizType nebula',
  ],
  async run(ctx) {
    const action = ctx.positionals[0]!;
    if (!/^[A-Z][A-Za-z0-9]+$/.test(action)) throw new UsageError(`"${action}" is not an action name such as QueryMcubeVhost`, this.path);
    const params: Record<string, string> = {};
    for (const [k, v] of ctx.params) {
      if (k in params) throw new UsageError(`--${k} is given more than once`, this.path);
      params[k] = v;
    }
    const answer = await ctx.client({ requireApp: false }).callRaw(action, params);
    ctx.io.stdout.write(JSON.stringify(answer.body, null, ctx.json ? undefined : 2) + '\n');
    const failure = businessFailure(fromWire(answer.body) as object, action);
    if (failure) {
      ctx.io.stderr.write(errorLine(failure) + '\n');
      return EXIT.business;
    }
  },
};
