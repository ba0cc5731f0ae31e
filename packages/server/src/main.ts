import { createMcubeServer } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { bootstrap } from './features/tenants/bootstrap.js';
import { databaseOpenError } from './db/open-errors.js';
import { isStorageUnavailable } from './core/errors.js';

/** A start that cannot go on for a reason the operator can fix: one line that says which setting, not a stack trace. */
function fatal(message: string): never {
  process.stderr.write(`mcube: ${message}\n`);
  process.exit(1);
}

const UNKNOWN_HOST = ['ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'];
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) fatal(err.message);
  throw err;
}
const node = await createMcubeServer(config).catch((err: NodeJS.ErrnoException) => {
  // a master key that does not open this database's secrets
  if (err instanceof ConfigError) fatal(err.message);
  // S3 unreachable or failing at start (its bucket is checked): named as such, not as the database
  if (isStorageUnavailable(err)) fatal(`cannot reach the S3 storage at ${config.storage.s3Endpoint || 'AWS'} (bucket ${config.storage.bucket}): ${err.message}`);
  // unreachable, unknown host, refused login, no such database: the database named, the cause as the driver said it
  const line = databaseOpenError(config.databaseUrl, err);
  if (line) fatal(line);
  throw err;
});

// Handlers first: a SIGTERM that arrives right after the banner must still drain and exit cleanly.
let stopping = false;
let firstSignalAt = 0;
/** a repeat this soon is the same stop (npm forwards the signal its process group already gave node; Ctrl-C does that) */
const SAME_STOP_MS = 1500;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    // a second signal later on: an operator who will not wait for the drain
    if (stopping) {
      if (Date.now() - firstSignalAt < SAME_STOP_MS) return;
      node.deps.log.warn('second signal: exiting without waiting for the drain', { signal: sig });
      process.exit(1);
    }
    stopping = true;
    firstSignalAt = Date.now();
    node.deps.log.info('shutting down', { signal: sig });
    node.close().then(
      () => process.exit(0),
      (e) => {
        node.deps.log.error('shutdown failed', { error: String(e) });
        process.exit(1);
      },
    );
  });
}

// listening first: a start that fails (the port is taken) must not have stored a generated secret it never printed
const { url } = await node.listen().catch(async (e: NodeJS.ErrnoException) => {
  // the usual first-start failure, said in one line instead of a stack trace
  if (UNKNOWN_HOST.includes(e.code ?? '')) {
    await node.close().catch(() => {});
    fatal(`cannot listen on ${config.host}:${config.port}: ${e.code === 'EADDRNOTAVAIL' ? 'no network interface of this machine has that address' : 'no such host name'}; check MCUBE_HOST`);
  }
  if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') throw e;
  const why = e.code === 'EADDRINUSE' ? 'is in use by another process' : 'may not be opened by this user';
  await node.close().catch(() => {});
  fatal(`cannot listen on ${config.host}:${config.port}: the port ${why}; choose another with MCUBE_PORT (and MCUBE_HOST)`);
});
const boot = await bootstrap(config, node.deps.db, node.deps.box).catch(async (e: Error) => {
  if (!(e instanceof ConfigError)) throw e;
  await node.close().catch(() => {});
  fatal(e.message);
});

const lines = [
  `mcube listening on ${url} (database: ${node.deps.db.dialect}, storage: ${config.storage.driver}, data: ${config.dataDir})`,
  `  TenantId=${boot.tenantId} AppId=${boot.appId} WorkspaceId=${boot.workspaceId}`,
  `  device client key: ${boot.clientKey}`,
];
if (boot.generatedSecret) {
  lines.push(
    '  A bootstrap AccessKey was generated. The secret is shown only this once:',
    `    export MPAAS_AK_ENV=${boot.accessKeyId}`,
    `    export MPAAS_SK_ENV=${boot.generatedSecret}`,
  );
} else if (boot.accessKeyId) {
  lines.push(`  AccessKey: ${boot.accessKeyId} (secret not shown; manage keys with "npm run admin -- keys --help")`);
}
const warnings = [...boot.warnings];
if (config.host === '0.0.0.0' && config.publicUrlFromPort) {
  warnings.push(`MCUBE_HOST=0.0.0.0 without MCUBE_PUBLIC_URL: upload and download links point at ${config.publicUrl}, which only this machine reaches; set MCUBE_PUBLIC_URL to the address clients use`);
}
for (const w of warnings) {
  lines.push(`  warning: ${w}`);
  node.deps.log.warn('startup warning', { warning: w });
}
process.stderr.write(lines.join('\n') + '\n');
