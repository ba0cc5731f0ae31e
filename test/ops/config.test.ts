import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../packages/server/src/config.js';
import { openDatabase } from '../../packages/server/src/db/database.js';
import { SERVER_MAIN, runCommand } from '../helpers/process.js';
import { makeTestEnv, testDb, type TestEnv } from '../helpers/server.js';

/**
 * Settings an operator gets wrong are refused at start, naming the variable, in one line:
 * a scheme-less MCUBE_DOWNLOAD_BASE_URL used to start fine and hand devices links they
 * could not use; MCUBE_METRICS=enabled turned metrics off without a word; MCUBE_PORT=70000
 * and a scheme-less MCUBE_PUBLIC_URL died with "TypeError: Invalid URL" and a stack.
 */
const envs: TestEnv[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const e of envs) await e.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function env(over: Record<string, string>) {
  const e = makeTestEnv(over);
  envs.push(e);
  return e.env;
}

describe('configuration', () => {
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ MCUBE_DOWNLOAD_BASE_URL: 'cdn.example.com' }, /MCUBE_DOWNLOAD_BASE_URL must be an absolute http\(s\) URL/],
    [{ MCUBE_DOWNLOAD_BASE_URL: 'https://user:pw@cdn.example.com' }, /without credentials/],
    [{ MCUBE_PUBLIC_URL: 'mcube.example.com' }, /MCUBE_PUBLIC_URL must be an absolute http\(s\) URL/],
    [{ MCUBE_METRICS: 'enabled' }, /MCUBE_METRICS must be on or off/],
    [{ MCUBE_S3_FORCE_PATH_STYLE: 'maybe' }, /MCUBE_S3_FORCE_PATH_STYLE must be on or off/],
    [{ MCUBE_PORT: '70000' }, /MCUBE_PORT must be a whole number from 0 to 65535/],
    [{ MCUBE_PORT: '1e3' }, /MCUBE_PORT must be a whole number/],
    [{ MCUBE_DOWNLOAD_URL_TTL: '9999999' }, /MCUBE_DOWNLOAD_URL_TTL must be a whole number from 60 to 604800/],
    [{ DATABASE_URL: 'mysql://foo/db' }, /DATABASE_URL must be a PostgreSQL URL/],
    // these died with "TypeError: Invalid URL" and a stack
    [{ MCUBE_HOST: '999.1.1.1' }, /MCUBE_HOST "999\.1\.1\.1" is not an address to listen on/],
    [{ MCUBE_HOST: 'bad host' }, /MCUBE_HOST "bad host" is not an address/],
    [{ MCUBE_HOST: 'http://example.com' }, /MCUBE_HOST/],
  ];
  for (const [over, message] of refused) {
    it(`refuses ${JSON.stringify(over)}`, () => {
      const err = (() => {
        try {
          loadConfig(env(over));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('reads on/off settings both ways and keeps good URLs without their trailing slash', () => {
    expect(loadConfig(env({ MCUBE_METRICS: 'off' })).metrics.enabled).toBe(false);
    expect(loadConfig(env({ MCUBE_METRICS: 'ON' })).metrics.enabled).toBe(true);
    expect(loadConfig(env({ MCUBE_DOWNLOAD_BASE_URL: 'https://cdn.example.com/mcube/' })).storage.downloadBaseUrl).toBe('https://cdn.example.com/mcube');
    expect(loadConfig(env({ MCUBE_PUBLIC_URL: 'https://mcube.example.com/' })).publicUrl).toBe('https://mcube.example.com');
    // an IPv6 address, with or without brackets, is bracketed in the URLs made from it
    for (const h of ['::1', '[::1]']) expect(loadConfig(env({ MCUBE_HOST: h, MCUBE_PORT: '8080' }))).toMatchObject({ host: '::1', publicUrl: 'http://[::1]:8080' });
    expect(loadConfig(env({ MCUBE_HOST: 'node-1.internal', MCUBE_PORT: '8080' })).publicUrl).toBe('http://node-1.internal:8080');
  });

  it('a node started with a bad setting says which in one line and exits 1', async () => {
    const r = await runCommand(process.execPath, [SERVER_MAIN], env({ MCUBE_DOWNLOAD_BASE_URL: 'cdn.example.com' }));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('mcube: MCUBE_DOWNLOAD_BASE_URL must be an absolute http(s) URL such as https://cdn.example.com/mcube, got "cdn.example.com"');
  });

  it('a node that cannot reach its PostgreSQL says so in one line, with the password hidden', async () => {
    const r = await runCommand(process.execPath, [SERVER_MAIN], env({ DATABASE_URL: 'postgres://mcube:s3cret@127.0.0.1:1/none' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mcube: cannot open PostgreSQL at postgres:\/\/mcube:\*\*\*@127\.0\.0\.1:1\/none \(DATABASE_URL\): .*ECONNREFUSED/);
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('creates the data folder and (SQLite) the database for its user only', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'mcube-perm-'));
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    const config = loadConfig({ ...env({}), MCUBE_DATA_DIR: dataDir });
    const db = await openDatabase(config);
    await db.close();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    if (testDb === 'sqlite') expect(statSync(join(dataDir, 'mcube.sqlite')).mode & 0o777).toBe(0o600);
  });
});
