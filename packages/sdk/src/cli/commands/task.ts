import { McubeBusinessError } from '../../errors.js';
import type { Command, CommandContext } from '../command.js';
import { UsageError } from '../usage-error.js';
import { PUBLISH_MODE_NAMES, TASK_STATUS_NAMES } from './nebula-lists.js';

const CHANGES = [
  { word: 'start', status: 1, done: 'started', summary: 'Start a task created as "to be released"' },
  { word: 'pause', status: 3, done: 'paused', summary: 'Pause a releasing task' },
  { word: 'continue', status: 1, done: 'continued', summary: 'Continue a paused task' },
  { word: 'end', status: 2, done: 'ended', summary: 'End a task for good (devices stop getting this version)' },
] as const;

function taskId(raw: string, command: string[]): string {
  if (!/^\d+$/.test(raw)) throw new UsageError(`task id "${raw}" is not a number`, command);
  return raw;
}

/**
 * A status change refused because the task is in that status already (a pipeline run again after a lost answer):
 * the status, else undefined. The state asked for holds, so the command succeeds.
 */
export async function statusIfUnchanged(err: unknown, target: number, read: () => Promise<number | undefined>): Promise<number | undefined> {
  if (!(err instanceof McubeBusinessError) || err.code !== 'InvalidTaskStatusChange') return undefined;
  const now = await read().catch(() => undefined);
  return now === target ? now : undefined;
}

export function alreadyThere(ctx: CommandContext, id: string, status: number): void {
  ctx.emit({ taskId: id, taskStatus: status, unchanged: true });
  ctx.say(`task ${id} is ${TASK_STATUS_NAMES[status] ?? status} already; nothing done\n`);
}

export const taskCommands: Command[] = [
  ...CHANGES.map(
    (c): Command => ({
      path: ['task', c.word],
      args: '<taskId>',
      positionals: [1, 1],
      summary: `${c.summary} (ChangeMcubeNebulaTaskStatus, TaskStatus ${c.status})`,
      options: [{ name: 'resource-id', value: '<id>', help: 'package id of the task (checked when given)' }],
      examples: [`mcube task ${c.word} 17 --resource-id 42`],
      async run(ctx) {
        const id = taskId(ctx.positionals[0]!, this.path);
        const client = ctx.client();
        const r = await client.changeMcubeNebulaTaskStatus({ taskId: id, packageId: ctx.str('resource-id'), taskStatus: c.status, bizType: 'nebula' }).catch(async (err) => {
          const now = await statusIfUnchanged(err, c.status, async () => (await client.getMcubeNebulaTaskDetail({ taskId: Number(id) })).getMcubeNebulaTaskDetailResult.nebulaTaskDetail?.taskStatus);
          if (now === undefined) throw err;
          return null;
        });
        if (r === null) return alreadyThere(ctx, id, c.status);
        ctx.emit(r);
        ctx.say(`task ${id} ${c.done}\n`);
      },
    }),
  ),
  {
    path: ['task', 'show'],
    args: '<taskId>',
    positionals: [1, 1],
    summary: 'Show a release task with its rules (GetMcubeNebulaTaskDetail)',
    options: [],
    examples: ['mcube task show 17', 'mcube task show 17 --json'],
    async run(ctx) {
      const r = await ctx.client().getMcubeNebulaTaskDetail({ taskId: Number(taskId(ctx.positionals[0]!, this.path)) });
      ctx.emit(r);
      const t = r.getMcubeNebulaTaskDetailResult.nebulaTaskDetail ?? {};
      const lines: Array<[string, unknown]> = [
        ['task', t.id],
        ['package', `${t.packageId} (${t.taskName} ${t.productVersion}, ${t.platform})`],
        ['release', t.publishType === 3 ? 'official' : `gray, ${PUBLISH_MODE_NAMES[t.publishMode ?? 0] ?? t.publishMode}`],
        ['status', TASK_STATUS_NAMES[t.taskStatus ?? -1] ?? t.taskStatus],
        ['whitelists', t.whitelistIds],
        ['window end', t.greyEndtimeData],
        ['window users', t.publishMode === 2 ? t.greyNum : ''],
        ['percent', t.publishMode === 3 ? t.percent : ''],
        ['rules', (t.ruleJsonList ?? []).map((x) => `${x.ruleElement} ${x.ruleType} ${x.value}`).join('; ')],
        ['memo', t.memo],
        ['created', t.gmtCreate],
        ['download', (t.downloadUrl ?? '').split(';')[0]],
      ];
      ctx.say(lines.filter(([, v]) => v !== '' && v !== undefined).map(([k, v]) => `${(k + ':').padEnd(18)}${v}`).join('\n') + '\n');
    },
  },
];
