import { randomInt, randomUUID } from 'node:crypto';
import { loadConfig } from '../config.js';
import { SecretBox } from '../core/crypto.js';
import { createLogger } from '../core/logger.js';
import { openDatabase } from '../db/database.js';
import { bumpStamp } from '../db/stamps.js';
import { databaseOpenError } from '../db/open-errors.js';
import { createBlobStore } from '../features/storage/index.js';
import { runJanitor } from '../features/janitor/index.js';
import { Metrics } from '../core/metrics.js';
import { sealedValues, type SealCount } from '../features/tenants/master-key.js';
import { assertMasterKeyOpens, checkWorkspaceId, TenantStore } from '../features/tenants/tenant-store.js';
import { moveUpgradeTask, UPGRADE_TASK_STATUS_NAMES, type UpgradeTaskMove } from '../features/upgrade/task-service.js';
import { BusinessError } from '../core/errors.js';

const HELP = `mcube admin: provision tenants, apps, workspaces and AccessKeys; read the audit log.
Works on the database the server uses (same environment: DATABASE_URL, MCUBE_DB_SCHEMA, MCUBE_DATA_DIR, MCUBE_MASTER_KEY).

  tenants list
  tenants create <tenantId> [--name <name>]
  tenants disable <tenantId>                               (all its AccessKeys refused; its devices still served)
  tenants enable <tenantId>
  apps list [--tenant <tenantId>]
  apps create <appId> --tenant <tenantId> [--name <name>] [--workspace <workspaceId>]
  workspaces list <appId>                      (shows each workspace's device client key)
  workspaces create <appId> <workspaceId>
  workspaces rotate-client-key <appId> <workspaceId> [--grace-seconds 2592000]
                                               (new device client key; the old one works until the grace ends)
  keys list [--tenant <tenantId>]
  keys create --tenant <tenantId> [--description <text>]   (prints the secret once)
  keys disable <accessKeyId>
  keys enable <accessKeyId>
  keys rotate <accessKeyId> [--grace-seconds 86400]        (new key now; the old one works until the grace ends)
  upgrade-tasks list <appId> <workspaceId>     (upgrade release tasks, newest first, with their status)
  upgrade-tasks pause|continue|end <appId> <workspaceId> <taskId>
                                               (the console's Pause, Continue and End; the OpenAPI has no action for them)
  upgrade-packages new-code <appId> <workspaceId> <packageId>
                                               (a new download verification code; the old one stops working at once)
  audit list [--tenant <tenantId>] [--action <Action>] [--since <ISO time>] [--limit 50]
  janitor run                                  (sweep unreferenced stored objects now)
  master-key status                            (how many secrets the master key sealed, how many an open-only key did)
  master-key reseal                            (seal every secret again with MCUBE_MASTER_KEY; see docs/configuration.md)

Add --json to any command for machine-readable output. The command refuses a database
that does not exist yet (a mistyped MCUBE_DATA_DIR, DATABASE_URL or MCUBE_DB_SCHEMA);
add --create-database to set one up before any node has started.
Examples:
  npm run admin -- tenants create ACME01 --name "Acme"
  npm run admin -- apps create ACMEAPP0000001 --tenant ACME01
  npm run admin -- keys create --tenant ACME01 --description ci
  npm run admin -- keys rotate MCAKXXXXXXXXXXXXXXXXXXXX --grace-seconds 3600
  npm run admin -- upgrade-tasks pause ACMEAPP0000001 default 12
`;

/** Each command's positional arguments and the options it takes (all with a value); --json and --help go with any. */
const COMMANDS: Record<string, { args: number; opts: string[] }> = {
  'tenants list': { args: 0, opts: [] },
  'tenants create': { args: 1, opts: ['name'] },
  'tenants disable': { args: 1, opts: [] },
  'tenants enable': { args: 1, opts: [] },
  'apps list': { args: 0, opts: ['tenant'] },
  'apps create': { args: 1, opts: ['tenant', 'name', 'workspace'] },
  'workspaces list': { args: 1, opts: [] },
  'workspaces create': { args: 2, opts: [] },
  'workspaces rotate-client-key': { args: 2, opts: ['grace-seconds'] },
  'keys list': { args: 0, opts: ['tenant'] },
  'keys create': { args: 0, opts: ['tenant', 'description'] },
  'keys disable': { args: 1, opts: [] },
  'keys enable': { args: 1, opts: [] },
  'keys rotate': { args: 1, opts: ['grace-seconds'] },
  'upgrade-tasks list': { args: 2, opts: [] },
  'upgrade-tasks pause': { args: 3, opts: [] },
  'upgrade-tasks continue': { args: 3, opts: [] },
  'upgrade-tasks end': { args: 3, opts: [] },
  'upgrade-packages new-code': { args: 3, opts: [] },
  'audit list': { args: 0, opts: ['tenant', 'action', 'since', 'limit'] },
  'janitor run': { args: 0, opts: [] },
  'master-key status': { args: 0, opts: [] },
  'master-key reseal': { args: 0, opts: [] },
};
const FLAGS = ['json', 'help', 'create-database'];

/**
 * `--name value` and `--name=value`. An option the command does not take is refused, not
 * ignored: `keys rotate K --grace=0` must not leave a leaked key working for the default day.
 */
function parse(argv: string[]) {
  const pos: string[] = [];
  const raw: Array<[string, string | undefined]> = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      pos.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (eq >= 0) raw.push([name, a.slice(eq + 1)]);
    else if (FLAGS.includes(name)) raw.push([name, undefined]);
    else {
      const next = argv[i + 1];
      raw.push([name, next !== undefined && !next.startsWith('--') ? next : undefined]);
      if (next !== undefined && !next.startsWith('--')) i++;
    }
  }
  const opts: Record<string, string | true> = {};
  for (const [name, value] of raw) {
    if (FLAGS.includes(name)) {
      if (value !== undefined) throw new UsageError(`--${name} takes no value`);
      opts[name] = true;
    } else opts[name] = value ?? true;
  }
  return { pos, opts };
}

/** Refuses what the command does not take: unknown options, options without their value, extra arguments. */
function checkUsage(command: string, pos: string[], opts: Record<string, string | true>): void {
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command "${pos.join(' ')}"`);
  for (const [name, value] of Object.entries(opts)) {
    if (FLAGS.includes(name)) continue;
    if (!spec.opts.includes(name)) {
      throw new UsageError(`"${command}" has no option --${name}${spec.opts.length ? ` (it takes ${spec.opts.map((o) => `--${o}`).join(', ')})` : ''}`);
    }
    if (value === true) throw new UsageError(`--${name} needs a value`);
  }
  const extra = pos.slice(2 + spec.args);
  if (extra.length) throw new UsageError(`"${command}" takes ${spec.args} argument${spec.args === 1 ? '' : 's'}; unexpected ${extra.map((x) => `"${x}"`).join(' ')}`);
}

function need(v: string | true | undefined, what: string): string {
  if (typeof v !== 'string' || !v) throw new UsageError(`missing ${what}`);
  return v;
}

/** A row id argument: a positive whole number. */
function rowId(v: string | true | undefined, what: string): number {
  const n = Number(need(v, what));
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive whole number`);
  return n;
}

class UsageError extends Error {}
/** A named tenant, app, workspace or key that does not exist: exit 2 like a usage error, without the whole help. */
class NotFound extends UsageError {}
/** the command was right, the state refuses it (a finished task): said in one line, without the usage text */
class Refused extends Error {}

async function main(): Promise<number> {
  const { pos, opts } = parse(process.argv.slice(2));
  if (opts.help || pos.length === 0) {
    process.stdout.write(HELP);
    return pos.length === 0 && !opts.help ? 2 : 0;
  }
  const command = `${pos[0]} ${pos[1] ?? ''}`.trim();
  checkUsage(command, pos, opts);
  const json = opts.json === true;
  const out = (human: string, data: unknown) => process.stdout.write(json ? JSON.stringify(data) + '\n' : human + '\n');
  // a mistyped MCUBE_DATA_DIR, DATABASE_URL or MCUBE_DB_SCHEMA must not quietly set up a new, empty database
  const create = opts['create-database'] === true;
  // the nodes must have a key generated here: say where it is, or the first node started elsewhere would be refused
  const onGeneratedKey = (file: string) => process.stderr.write(`generated a new master key in ${file}: every node must use it (as MCUBE_MASTER_KEY, or with this data folder)\n`);
  const config = loadConfig(process.env, { create, onGeneratedKey });
  const db = await openDatabase(config, { existing: !create, quiet: true }).catch((err: NodeJS.ErrnoException) => {
    // unreachable, unknown host, refused login, no such database: one line naming the setting, as nodes say it
    const line = databaseOpenError(config.databaseUrl, err);
    throw line ? new Error(line) : err;
  });
  const box = new SecretBox(config.masterKey, config.masterKeysOpenOnly);
  const store = new TenantStore(db, box);
  try {
    await assertMasterKeyOpens(db, box);
    const [group, verb, a1, a2, a3] = pos;
    const key = `${group} ${verb ?? ''}`.trim();
    // every change made here leaves an audit row, as the API's changes do (never a secret in it)
    const record = async (tenantId: string | null, params: Record<string, unknown>) => {
      await db.knex('audit_log').insert({
        request_id: `admin-${randomUUID()}`,
        tenant_id: tenantId,
        access_key_id: null,
        action: `admin ${key}`,
        params: JSON.stringify(params),
        http_status: 200,
        result_code: 'OK',
        created_at: Date.now(),
      });
    };
    const tenantOfApp = async (appId: string) => (await store.listApps()).find((r) => r.app_id === appId)?.tenant_id ?? null;
    switch (key) {
      case 'tenants list': {
        const rows = await store.listTenants();
        out(rows.map((r) => `${r.id}\t${r.status}\t${r.name}`).join('\n') || '(none)', rows);
        return 0;
      }
      case 'tenants disable':
      case 'tenants enable': {
        const id = need(a1, 'tenantId');
        const status = verb === 'disable' ? 'disabled' : 'active';
        if (!(await store.setTenantStatus(id, status))) throw new NotFound(`no tenant ${id}`);
        await record(id, { tenantId: id, status });
        out(`tenant ${id} ${status === 'disabled' ? 'disabled: its AccessKeys are refused' : 'enabled'} (on every node within a second)`, { tenantId: id, status });
        return 0;
      }
      case 'tenants create': {
        const id = need(a1, 'tenantId');
        const existing = (await store.listTenants()).find((t) => t.id === id);
        await store.ensureTenant(id, typeof opts.name === 'string' ? opts.name : id);
        await record(id, { tenantId: id });
        // an existing tenant is left as it is (create is idempotent, for scripts): say so rather than "ready" with a name not applied
        out(existing ? `tenant ${id} already exists (name "${existing.name}", ${existing.status}); nothing changed` : `tenant ${id} created`, { tenantId: id, created: !existing });
        return 0;
      }
      case 'apps list': {
        const rows = await store.listApps(typeof opts.tenant === 'string' ? opts.tenant : undefined);
        out(rows.map((r) => `${r.app_id}\t${r.tenant_id}\t${r.name}`).join('\n') || '(none)', rows);
        return 0;
      }
      case 'apps create': {
        const appId = need(a1, 'appId');
        const tenant = need(opts.tenant, '--tenant');
        if (!(await store.listTenants()).some((t) => t.id === tenant)) throw new NotFound(`no tenant ${tenant}`);
        const ws = typeof opts.workspace === 'string' ? opts.workspace : 'default';
        // checked first: a refused workspace id must not leave the app behind without a workspace
        checkWorkspaceId(ws);
        await store.ensureApp(tenant, appId, typeof opts.name === 'string' ? opts.name : appId);
        const clientKey = await store.ensureWorkspace(appId, ws);
        await record(tenant, { appId, workspaceId: ws });
        out(`app ${appId} (tenant ${tenant}) with workspace ${ws}; device client key ${clientKey}`, { appId, tenantId: tenant, workspaceId: ws, clientKey });
        return 0;
      }
      case 'workspaces list': {
        const rows = await store.listWorkspaces(need(a1, 'appId'));
        out(rows.map((r) => `${r.app_id}\t${r.workspace_id}\t${r.client_key}`).join('\n') || '(none)', rows);
        return 0;
      }
      case 'workspaces rotate-client-key': {
        const appId = need(a1, 'appId');
        const ws = need(a2, 'workspaceId');
        const grace = typeof opts['grace-seconds'] === 'string' ? Number(opts['grace-seconds']) : 30 * 86400;
        if (!Number.isInteger(grace) || grace < 0) throw new UsageError('--grace-seconds must be a whole number');
        const r = await store.rotateClientKey(appId, ws, grace);
        if (!r) throw new NotFound(`no workspace ${ws} in app ${appId}`);
        await record(await tenantOfApp(appId), { appId, workspaceId: ws, graceSeconds: grace });
        const until = new Date(r.previousExpiresAt).toISOString();
        out(`device client key of ${appId}/${ws}: ${r.clientKey}\n(the previous key works until ${until}; every node sees the change within about a second)`, {
          appId,
          workspaceId: ws,
          clientKey: r.clientKey,
          previous: r.previous,
          previousExpiresAt: until,
        });
        return 0;
      }
      case 'workspaces create': {
        const appId = need(a1, 'appId');
        const ws = need(a2, 'workspaceId');
        if (!(await store.listApps()).some((r) => r.app_id === appId)) throw new NotFound(`no app ${appId}`);
        const clientKey = await store.ensureWorkspace(appId, ws);
        await record(await tenantOfApp(appId), { appId, workspaceId: ws });
        out(`workspace ${ws} of ${appId}; device client key ${clientKey}`, { appId, workspaceId: ws, clientKey });
        return 0;
      }
      case 'keys list': {
        const rows = await store.listAccessKeys(typeof opts.tenant === 'string' ? opts.tenant : undefined);
        out(
          rows
            .map((r) => {
              const expired = r.expiresAt !== null && r.expiresAt <= Date.now();
              const when = r.expiresAt ? `\t${expired ? 'expired' : 'expires'} ${new Date(r.expiresAt).toISOString()}` : '';
              return `${r.id}\t${r.tenantId}\t${expired ? 'expired' : r.status}${when}\t${r.description}`;
            })
            .join('\n') || '(none)',
          rows.map((r) => ({ ...r, expired: r.expiresAt !== null && r.expiresAt <= Date.now() })),
        );
        return 0;
      }
      case 'keys create': {
        const tenant = need(opts.tenant, '--tenant');
        if (!(await store.listTenants()).some((t) => t.id === tenant)) throw new NotFound(`no tenant ${tenant}`);
        const k = await store.createAccessKey(tenant, { description: typeof opts.description === 'string' ? opts.description : '' });
        await record(tenant, { accessKeyId: k.id });
        out(`AccessKeyId:     ${k.id}\nAccessKeySecret: ${k.secret}\n(the secret is shown only now)`, { accessKeyId: k.id, accessKeySecret: k.secret, tenantId: tenant });
        return 0;
      }
      case 'keys disable':
      case 'keys enable': {
        const id = need(a1, 'accessKeyId');
        const key = await store.getAccessKey(id);
        // a rotated key's end is final; enabling it would print "enabled" for a key that is still refused
        if (verb === 'enable' && key?.expiresAt != null && key.expiresAt <= Date.now()) {
          throw new UsageError(`${id} expired at ${new Date(key.expiresAt).toISOString()} (it was rotated) and cannot be enabled again; create a new key with "keys create"`);
        }
        const ok = await store.setKeyStatus(id, verb === 'disable' ? 'disabled' : 'active');
        if (!ok) throw new NotFound(`no AccessKey ${id}`);
        await record(key?.tenantId ?? null, { accessKeyId: id });
        out(`${id} ${verb === 'disable' ? 'disabled' : 'enabled'} (takes effect on every node within a second)`, { accessKeyId: id, status: verb === 'disable' ? 'disabled' : 'active' });
        return 0;
      }
      case 'keys rotate': {
        const id = need(a1, 'accessKeyId');
        const grace = typeof opts['grace-seconds'] === 'string' ? Number(opts['grace-seconds']) : 86400;
        if (!Number.isInteger(grace) || grace < 0) throw new UsageError('--grace-seconds must be a whole number');
        const old = await store.getAccessKey(id);
        if (!old) throw new NotFound(`no AccessKey ${id}`);
        const r = await store.rotateAccessKey(id, grace);
        await record(old.tenantId, { accessKeyId: r.id, previous: id, graceSeconds: grace });
        const until = new Date(r.oldExpiresAt).toISOString();
        // what the old key does now, by its state: a disabled key stays refused, an ended one stays ended
        const fate =
          old.expiresAt !== null && old.expiresAt <= Date.now()
            ? `${id} had already ended at ${new Date(old.expiresAt).toISOString()}`
            : old.status === 'disabled'
              ? `${id} is disabled and stays refused`
              : r.oldExpiresAt <= Date.now()
                ? `${id} is refused from now on`
                : `${id} keeps working until ${until}`;
        out(`AccessKeyId:     ${r.id}\nAccessKeySecret: ${r.secret}\n(the secret is shown only now; ${fate})`, {
          accessKeyId: r.id,
          accessKeySecret: r.secret,
          previous: id,
          previousExpiresAt: until,
          previousStatus: old.status,
        });
        return 0;
      }
      case 'audit list': {
        const limit = opts.limit === undefined ? 50 : Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new UsageError('--limit must be a whole number from 1 to 10000');
        const since = typeof opts.since === 'string' ? Date.parse(opts.since) : null;
        if (since !== null && Number.isNaN(since)) throw new UsageError(`--since "${String(opts.since)}" is not a date (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)`);
        let q = db.knex('audit_log').select('*').orderBy('id', 'desc').limit(limit);
        if (typeof opts.tenant === 'string') q = q.where('tenant_id', opts.tenant);
        if (typeof opts.action === 'string') q = q.where('action', opts.action);
        if (since !== null) q = q.where('created_at', '>=', since);
        const rows = (await q).map((r) => ({
          time: new Date(Number(r.created_at)).toISOString(),
          requestId: r.request_id,
          tenantId: r.tenant_id,
          accessKeyId: r.access_key_id,
          action: r.action,
          status: r.http_status,
          result: r.result_code,
          params: JSON.parse(r.params),
        }));
        out(rows.map((r) => `${r.time}\t${r.tenantId}\t${r.accessKeyId}\t${r.action}\t${r.status}\t${r.result}\t${r.requestId}\t${JSON.stringify(r.params)}`).join('\n') || '(none)', rows);
        return 0;
      }
      case 'upgrade-tasks list': {
        const scope = { appId: need(a1, 'appId'), workspaceId: need(a2, 'workspaceId') };
        const rows = await db
          .knex('upgrade_tasks as t')
          .join('upgrade_packages as p', 'p.id', 't.package_id')
          .where({ 't.app_id': scope.appId, 't.workspace_id': scope.workspaceId })
          .orderBy('t.id', 'desc')
          .limit(500)
          .select('t.id', 't.package_id', 'p.platform', 'p.app_version', 't.publish_type', 't.publish_mode', 't.task_status');
        const list = rows.map((r: Record<string, unknown>) => ({
          id: Number(r.id),
          packageId: Number(r.package_id),
          platform: String(r.platform),
          version: String(r.app_version),
          publishType: Number(r.publish_type),
          publishMode: Number(r.publish_mode),
          status: UPGRADE_TASK_STATUS_NAMES[Number(r.task_status)] ?? String(r.task_status),
        }));
        out(list.map((t) => `${t.id}\tpackage ${t.packageId}\t${t.platform} ${t.version}\t${t.publishType === 3 ? 'official' : 'gray ' + t.publishMode}\t${t.status}`).join('\n') || '(none)', list);
        return 0;
      }
      case 'upgrade-tasks pause':
      case 'upgrade-tasks continue':
      case 'upgrade-tasks end': {
        const scope = { appId: need(a1, 'appId'), workspaceId: need(a2, 'workspaceId') };
        const taskId = rowId(a3, 'taskId');
        let task;
        try {
          task = await moveUpgradeTask(db, scope, taskId, verb as UpgradeTaskMove, Date.now());
        } catch (err) {
          if (err instanceof BusinessError) throw err.code.endsWith('NotFound') ? new NotFound(err.message) : new Refused(err.message);
          throw err;
        }
        await record(await tenantOfApp(scope.appId), { ...scope, taskId });
        const now = UPGRADE_TASK_STATUS_NAMES[task.taskStatus];
        out(`upgrade task ${taskId} of ${scope.appId}/${scope.workspaceId} is ${now} (devices see it within a second)`, { ...scope, taskId, status: now });
        return 0;
      }
      case 'upgrade-packages new-code': {
        // a 6-digit code can be guessed given time (20 wrong codes a minute per caller and node): an operator who
        // suspects it was, or who handed it to someone who should no longer download, gives the package a new one
        const scope = { appId: need(a1, 'appId'), workspaceId: need(a2, 'workspaceId') };
        const packageId = rowId(a3, 'packageId');
        const row = await db.knex('upgrade_packages').where({ app_id: scope.appId, workspace_id: scope.workspaceId, id: packageId }).first('need_check', 'verification_code');
        if (!row) throw new NotFound(`no upgrade package ${packageId} in ${scope.appId}/${scope.workspaceId}`);
        if (Number(row.need_check) !== 1) throw new Refused(`upgrade package ${packageId} has no download verification (NeedCheck 0)`);
        let code: string;
        do code = String(randomInt(0, 1_000_000)).padStart(6, '0');
        while (code === String(row.verification_code));
        await db.knex.transaction(async (trx) => {
          await trx('upgrade_packages').where({ id: packageId }).update({ verification_code: code });
          await bumpStamp(trx, db.dialect, scope.appId, scope.workspaceId);
        });
        await record(await tenantOfApp(scope.appId), { ...scope, packageId });
        out(`upgrade package ${packageId} of ${scope.appId}/${scope.workspaceId}: new verification code ${code} (the old one no longer opens the download)`, { ...scope, packageId, verificationCode: code });
        return 0;
      }
      case 'janitor run': {
        const blobs = await createBlobStore(config, createLogger('warn'));
        const report = await runJanitor({ config, db, log: createLogger('warn'), box, blobs, now: Date.now, metrics: new Metrics(), onDeliveryChange: () => {} });
        await blobs.close?.();
        out(JSON.stringify(report), report);
        return 0;
      }
      case 'master-key status':
      case 'master-key reseal': {
        const reseal = verb === 'reseal';
        const report = await sealedValues(db.knex, box, { reseal });
        const counts = [report.accessKeys, report.rsaKeys, report.masterKeyCheck];
        const unreadable = counts.flatMap((c) => c.unreadable);
        if (reseal) await record(null, { accessKeys: report.accessKeys.older, rsaKeys: report.rsaKeys.older, masterKeyCheck: report.masterKeyCheck.older, complete: report.complete });
        const line = (what: string, c: SealCount) =>
          `${what}: ${c.current} sealed with the master key, ${c.older} ${reseal ? 'sealed again with it now' : 'with an open-only key'}` +
          (c.unreadable.length ? `, ${c.unreadable.length} opened by no configured key (${c.unreadable.join(', ')})` : '');
        const after = !reseal
          ? ''
          : report.complete
            ? 'every secret is now sealed with MCUBE_MASTER_KEY; MCUBE_MASTER_KEY_OPEN_ONLY can go once every node runs with this master key'
            : 'not every secret could be sealed again: the master key check was left as it was, so nodes still need the key that opens it; keep MCUBE_MASTER_KEY_OPEN_ONLY and run reseal again (with the key that opens the rest)';
        const lines = [line('AccessKey secrets', report.accessKeys), line('RSA signing keys', report.rsaKeys), line('master key check', report.masterKeyCheck)];
        out([...lines, after].filter(Boolean).join('\n'), report);
        // secrets no configured key opens are still there to be rescued with the key that sealed them
        return unreadable.length || (reseal && !report.complete) ? 1 : 0;
      }
      default:
        throw new UsageError(`unknown command "${pos.join(' ')}"`);
    }
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof Refused) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(3);
    }
    if (err instanceof NotFound) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n\n${HELP}`);
      process.exit(2);
    }
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
