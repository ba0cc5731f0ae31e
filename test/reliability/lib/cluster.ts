import { startServerProcess, type ServerProcess } from '../../helpers/process.js';
import { makeTestEnv, type TestEnv } from '../../helpers/server.js';
import { freePort } from '../../helpers/free-port.js';

/**
 * Server processes sharing one database (one SQLite data folder, or one
 * PostgreSQL schema) and one blob store, as nodes behind a load balancer:
 * every node has the same MCUBE_PUBLIC_URL (here: the first node's address).
 */
export interface Cluster {
  env: TestEnv;
  /** environment of every node (the first node's fixed port included) */
  nodeEnv: Record<string, string>;
  nodes: ServerProcess[];
  publicUrl: string;
  /** starts a further node on the shared state */
  start(): Promise<ServerProcess>;
  close(): Promise<void>;
}

export async function startCluster(size: number, overrides: Record<string, string> = {}): Promise<Cluster> {
  const env = makeTestEnv({ MCUBE_JANITOR_INTERVAL_SEC: '0', ...overrides });
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const nodeEnv = { ...env.env, MCUBE_PUBLIC_URL: publicUrl };
  const nodes: ServerProcess[] = [];
  const cluster: Cluster = {
    env,
    nodeEnv,
    nodes,
    publicUrl,
    async start() {
      // the first node owns the public address; the others listen anywhere
      const p = await startServerProcess({ ...nodeEnv, MCUBE_PORT: nodes.length === 0 ? String(port) : '0' }, 60_000);
      nodes.push(p);
      return p;
    },
    async close() {
      for (const n of nodes) await n.stop('SIGKILL');
      await env.cleanup();
    },
  };
  // one after the other: the first start migrates, the next ones find the schema ready
  for (let i = 0; i < size; i++) await cluster.start();
  return cluster;
}
