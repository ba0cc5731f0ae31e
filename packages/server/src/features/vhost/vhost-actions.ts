import { BusinessError } from '../../core/errors.js';
import { defineAction } from '../../core/registry.js';
import { S, commonInput, resultBase } from '../../core/schema.js';

const MAX_VHOST = 255 - 'https://'.length - 17;
const VHOST = /^(https?:\/\/)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+(:\d{1,5})?$/;

export const createMcubeVhost = defineAction<{ Vhost: string }>({
  name: 'CreateMcubeVhost',
  summary: 'Set the virtual domain under which the app\'s H5 offline packages are served.',
  tag: 'Vhost',
  input: { ...commonInput, Vhost: S.str('virtual domain, e.g. h5app.com', 255) },
  required: ['AppId', 'WorkspaceId', 'Vhost'],
  resultKey: 'CreateVhostResult',
  result: S.obj({ Data: S.str(), ...resultBase }),
  mutates: true,
  errors: ['InvalidVhost'],
  handler: async (input, ctx) => {
    const vhost = input.Vhost.trim();
    if (!VHOST.test(vhost)) throw new BusinessError('InvalidVhost', `Vhost "${input.Vhost}" is not a domain name such as h5app.com.`);
    // packages are served from https://<16-digit id>.<domain>, which must fit in 255 characters
    if (!/^https?:\/\//i.test(vhost) && vhost.length > MAX_VHOST) throw new BusinessError('InvalidVhost', `Vhost: ${vhost.length} characters; at most ${MAX_VHOST}, so that https://<H5 app id>.<domain> stays within 255.`);
    const { knex } = ctx.deps.db;
    await knex('vhosts')
      .insert({ app_id: ctx.appId, workspace_id: ctx.workspaceId, vhost, updated_at: ctx.deps.now() })
      .onConflict(['app_id', 'workspace_id'])
      .merge({ vhost, updated_at: ctx.deps.now() });
    return { Data: 'success' };
  },
});

export const queryMcubeVhost = defineAction({
  name: 'QueryMcubeVhost',
  summary: 'Read the virtual domain of the app\'s H5 offline packages.',
  tag: 'Vhost',
  input: { ...commonInput },
  required: ['AppId', 'WorkspaceId'],
  resultKey: 'QueryVhostResult',
  result: S.obj({ Data: S.str(), ...resultBase }),
  mutates: false,
  handler: async (_input, ctx) => {
    const [row] = await ctx.deps.db.all<{ vhost: string }>('SELECT vhost FROM vhosts WHERE app_id = ? AND workspace_id = ?', [ctx.appId, ctx.workspaceId]);
    return { Data: row?.vhost ?? '' };
  },
});

export const vhostActions = [createMcubeVhost, queryMcubeVhost];
