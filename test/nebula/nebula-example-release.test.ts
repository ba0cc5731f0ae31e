import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const root = fileURLToPath(new URL('../..', import.meta.url));

function run(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/release-with-openapi-core.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

it('examples/release-with-openapi-core.ts drives a whole release against a running server', async () => {
  const env = { MPAAS_AK_ENV: srv.creds.accessKeyId, MPAAS_SK_ENV: srv.creds.accessKeySecret, MCUBE_ENDPOINT: srv.url, MCUBE_H5_ID: '77777001' };
  const r = await run(env);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  for (const line of ['ok  vhost: h5app.com', 'ok  RSA key uploaded: success', 'ok  H5 app: 77777001', 'ok  publish period while official: 3', 'ok  paused: publish period 1', 'ok  continued: publish period 3']) {
    expect(r.stdout).toContain(line);
  }
  expect(r.stdout).toMatch(/ok {2}ended: task \d+ status 2, task \d+ status 2/);
  expect(r.stdout).toMatch(/release of 77777001 1\.\d{8}\.\d{6} finished \(publish period 5\)/);

  const knex = srv.node.deps.db.knex;
  const tasks = await knex('nebula_tasks').where({ h5_id: '77777001' }).select('publish_type', 'publish_mode', 'task_status', 'whitelist_ids');
  expect(tasks.map((t) => [t.publish_type, t.publish_mode, t.task_status]).sort()).toEqual([[2, 1, 2], [3, 4, 2]]);
  expect(await knex('rsa_keys').where({ app_id: srv.creds.appId }).first()).toBeTruthy();

  // the endpoint as a URL (what the mcube command takes) reaches the same server: the wrong secret is what fails
  const bad = await run({ ...env, MCUBE_ENDPOINT: srv.url, MPAAS_SK_ENV: 'wrong-secret-wrong-secret' });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/release failed: SignatureDoesNotMatch/);
});
