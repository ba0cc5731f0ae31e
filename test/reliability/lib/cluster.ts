import { onFreePort, startServerProcess, type ServerProcess } from '../../helpers/process.js';
import { makeTestEnv, type TestEnv } from '../../helpers/server.js';

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
  const nodes: ServerProcess[] = [];
  // the first node owns the public address (a port that was free a moment ago; tried again should another process take it)
  const first = await onFreePort((port) => startServerProcess({ ...env.env, MCUBE_PUBLIC_URL: `http://127.0.0.1:${port}`, MCUBE_PORT: String(port) }, 60_000));
  nodes.push(first);
  const publicUrl = first.url;
  const nodeEnv = { ...env.env, MCUBE_PUBLIC_URL: publicUrl };
  const cluster: Cluster = {
    env,
    nodeEnv,
    nodes,
    publicUrl,
    async start() {
      // further nodes listen anywhere
      const p = await startServerProcess({ ...nodeEnv, MCUBE_PORT: '0' }, 60_000);
      nodes.push(p);
      return p;
    },
    async close() {
      for (const n of nodes) await n.stop('SIGKILL');
      await env.cleanup();
    },
  };
  // one after the other: the first start migrates, the next ones find the schema ready
  for (let i = 1; i < size; i++) await cluster.start();
  return cluster;
}
