import { createMcubeServer } from './app.js';
import { loadConfig } from './config.js';
import { bootstrap } from './features/tenants/bootstrap.js';

const config = loadConfig();
const node = await createMcubeServer(config);

// Handlers first: a SIGTERM that arrives right after the banner must still drain and exit cleanly.
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
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
  if (e.code !== 'EADDRINUSE' && e.code !== 'EACCES') throw e;
  const why = e.code === 'EADDRINUSE' ? 'is in use by another process' : 'may not be opened by this user';
  process.stderr.write(`mcube: cannot listen on ${config.host}:${config.port}: the port ${why}; choose another with MCUBE_PORT (and MCUBE_HOST)\n`);
  await node.close().catch(() => {});
  process.exit(1);
});
const boot = await bootstrap(config, node.deps.db, node.deps.box);

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
for (const w of boot.warnings) {
  lines.push(`  warning: ${w}`);
  node.deps.log.warn('bootstrap setting not applied', { warning: w });
}
process.stderr.write(lines.join('\n') + '\n');

