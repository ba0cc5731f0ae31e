import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  host: string;
  stderr(): string;
  stdout(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** What production runs, built by packages/server/scripts/build.mjs (vitest's global setup builds it once per run). */
export const SERVER_MAIN = join(ROOT, 'packages/server/dist/main.mjs');
export const ADMIN_MAIN = join(ROOT, 'packages/server/dist/admin.mjs');

/** Starts the built server as a real process, as `npm start` does, and waits for its listening line. */
export function startServerProcess(env: Record<string, string>, timeoutMs = 30_000, nodeArgs: string[] = []): Promise<ServerProcess> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: run "npm run build" (vitest's global setup does)`);
  const proc = spawn(process.execPath, ['--enable-source-maps', ...nodeArgs, SERVER_MAIN], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in time:\n${err}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
    proc.stderr!.on('data', (c) => {
      err += c;
      const m = /listening on (http:\/\/([\d.]+:\d+))/.exec(err);
      if (m) {
        clearTimeout(timer);
        proc.removeAllListeners('exit');
        resolve({
          proc,
          url: m[1]!,
          host: m[2]!,
          stderr: () => err,
          stdout: () => out,
          stop: (signal = 'SIGTERM') =>
            new Promise((res) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
              proc.once('exit', (code) => res(code));
              proc.kill(signal);
            }),
        });
      }
    });
  });
}

export function runCommand(cmd: string, args: string[], env: Record<string, string>, cwd = ROOT): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Another node of one deployment: a server process on a free port (public
 * URL to match) over the test environment's database and data folder.
 */
export async function startPeerNode(env: { env: Record<string, string>; schema: string | null }): Promise<ServerProcess> {
  return onFreePort((port) =>
    startServerProcess({
      ...env.env,
      // the child inherits this process's environment: on SQLite make sure no DATABASE_URL leaks in
      ...(env.schema ? {} : { DATABASE_URL: '', MCUBE_DB_SCHEMA: '' }),
      MCUBE_PORT: String(port),
      MCUBE_PUBLIC_URL: `http://127.0.0.1:${port}`,
      MCUBE_LOG_LEVEL: 'warn',
    }),
  );
}

/**
 * Starts something on a port that was free a moment ago. Another test process may take
 * it in between (the suite runs two at once): a start refused because the port is in use
 * is tried again on another port.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (i >= attempts || !/port is in use/.test(String((err as Error).message))) throw err;
    }
  }
}
