import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knexFactory from 'knex';
import { createMcubeServer, type McubeServer } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { bootstrap } from '../../packages/server/src/features/tenants/bootstrap.js';

export const TEST_CREDS = {
  accessKeyId: 'MCAKTESTKEY0000000001',
  accessKeySecret: 'testSecretForMcubeSuite0123456789',
  tenantId: 'TENANT01',
  appId: 'ALIPUB0000001',
  workspaceId: 'default',
  clientKey: 'mck_testclientkey000000000000000001',
};

export type TestDb = 'sqlite' | 'postgres';

/** Which backend this run uses: MCUBE_TEST_DB=postgres runs the whole suite on PostgreSQL. */
export const testDb: TestDb = process.env.MCUBE_TEST_DB === 'postgres' ? 'postgres' : 'sqlite';
export const testPgUrl = process.env.MCUBE_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

export interface TestEnv {
  env: Record<string, string>;
  dataDir: string;
  schema: string | null;
  cleanup(): Promise<void>;
}

/** A fresh database (SQLite file or PostgreSQL schema) and data folder, as environment variables. */
export function makeTestEnv(overrides: Record<string, string> = {}): TestEnv {
  const dataDir = mkdtempSync(join(tmpdir(), 'mcube-test-'));
  const schema = testDb === 'postgres' ? 't_' + randomBytes(6).toString('hex') : null;
  const env: Record<string, string> = {
    MCUBE_DATA_DIR: dataDir,
    MCUBE_PORT: '0',
    MCUBE_HOST: '127.0.0.1',
    MCUBE_MASTER_KEY: randomBytes(32).toString('base64'),
    MCUBE_BOOTSTRAP_ACCESS_KEY_ID: TEST_CREDS.accessKeyId,
    MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET: TEST_CREDS.accessKeySecret,
    MCUBE_BOOTSTRAP_TENANT_ID: TEST_CREDS.tenantId,
    MCUBE_BOOTSTRAP_APP_ID: TEST_CREDS.appId,
    MCUBE_BOOTSTRAP_WORKSPACE_ID: TEST_CREDS.workspaceId,
    MCUBE_BOOTSTRAP_CLIENT_KEY: TEST_CREDS.clientKey,
    MCUBE_LOG_LEVEL: 'info',
    MCUBE_RATE_LIMIT: '0',
    ...(schema ? { DATABASE_URL: testPgUrl, MCUBE_DB_SCHEMA: schema } : {}),
    ...overrides,
  };
  return {
    env,
    dataDir,
    schema,
    async cleanup() {
      if (schema) {
        const k = knexFactory({ client: 'pg', connection: testPgUrl, pool: { min: 0, max: 1 } });
        await k.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).catch(() => {});
        await k.destroy();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestServer {
  node: McubeServer;
  url: string;
  /** host:port, the form @alicloud/openapi-core wants as endpoint */
  host: string;
  port: number;
  creds: typeof TEST_CREDS;
  logs: string[];
  env: TestEnv;
  close(): Promise<void>;
}

/** Starts an in-process server on a random port with a fresh database. */
export async function startTestServer(overrides: Record<string, string> = {}, opts: { now?: () => number } = {}): Promise<TestServer> {
  const env = makeTestEnv(overrides);
  // The port is unknown until listen; publicUrl is fixed up afterwards for local storage URLs.
  const config = loadConfig(env.env);
  const logs: string[] = [];
  const node = await createMcubeServer(config, { logSink: (l) => logs.push(l), now: opts.now });
  await bootstrap(config, node.deps.db, node.deps.box);
  const { port } = await node.listen();
  const url = `http://127.0.0.1:${port}`;
  if (!overrides.MCUBE_PUBLIC_URL) config.publicUrl = url;
  return {
    node,
    url,
    host: `127.0.0.1:${port}`,
    port,
    creds: TEST_CREDS,
    logs,
    env,
    async close() {
      await node.close();
      await env.cleanup();
    },
  };
}
