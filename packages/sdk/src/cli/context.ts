import { McubeClient } from '../client.js';
import { optionsFromEnv } from '../client-options.js';
import type { OptionValues } from './args.js';
import type { CommandContext } from './command.js';
import type { Io } from './io.js';
import { UsageError } from './usage-error.js';

export function makeContext(io: Io, values: OptionValues, positionals: string[], params: Array<[string, string]>, command: string[]): CommandContext {
  const json = values.json === true;
  const env = optionsFromEnv(io.env);
  let client: McubeClient | undefined;
  const str = (name: string, required = false): string | undefined => {
    const v = values[name];
    if (typeof v === 'string') return v;
    if (required) throw new UsageError(`--${name} is required`, command);
    return undefined;
  };
  const int = (name: string, required = false): number | undefined => {
    const v = str(name, required);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`--${name} "${v}" is not a whole number`, command);
    return Number(v);
  };
  return {
    io,
    values,
    positionals,
    params,
    json,
    str: str as CommandContext['str'],
    int: int as CommandContext['int'],
    say: (text) => {
      if (!json) io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
    emit: (value) => {
      if (json) io.stdout.write(JSON.stringify(value, null, 2) + '\n');
    },
    client: ({ requireApp = true } = {}) => {
      if (client) return client;
      const endpoint = str('endpoint') ?? env.endpoint;
      if (!endpoint) throw new UsageError('no endpoint: pass --endpoint <url> or set MCUBE_ENDPOINT', command);
      if (!env.accessKeyId || !env.accessKeySecret) throw new UsageError('no AccessKey: set MPAAS_AK_ENV and MPAAS_SK_ENV', command);
      const appId = str('app-id') ?? env.appId;
      const workspaceId = str('workspace-id') ?? env.workspaceId;
      if (requireApp && !appId) throw new UsageError('no app id: pass --app-id or set MPAAS_APP_ID', command);
      if (requireApp && !workspaceId) throw new UsageError('no workspace id: pass --workspace-id or set MPAAS_WORKSPACE_ID', command);
      const sig = str('signature') ?? 'acs3';
      if (sig !== 'acs3' && sig !== 'v2') throw new UsageError(`--signature "${sig}" must be acs3 or v2`, command);
      const timeout = str('timeout');
      // whole milliseconds from 1 to 2^31 - 1 (a Node timer): 0.001 s to about 24 days
      if (timeout !== undefined && !(Number(timeout) >= 0.001 && Number(timeout) <= 2_147_483)) throw new UsageError(`--timeout "${timeout}" must be a number of seconds from 0.001 to 2147483`, command);
      const retries = int('retries');
      try {
        client = new McubeClient({
          endpoint,
          accessKeyId: env.accessKeyId,
          accessKeySecret: env.accessKeySecret,
          appId,
          workspaceId,
          tenantId: str('tenant-id') ?? env.tenantId,
          signatureAlgorithm: sig === 'v2' ? 'v2' : 'ACS3-HMAC-SHA256',
          timeoutMs: timeout === undefined ? undefined : Math.round(Number(timeout) * 1000),
          retry: retries === undefined ? undefined : { maxAttempts: retries + 1 },
          throwOnBusinessError: true,
          userAgentSuffix: 'mcube-cli',
          onRetry: (e) => io.stderr.write(`retrying ${e.action} in ${(e.delayMs / 1000).toFixed(1)} s after ${(e.error as { code?: string }).code ?? e.error.message}\n`),
          env: {},
        });
      } catch (err) {
        throw new UsageError((err as Error).message, command);
      }
      return client;
    },
  };
}
