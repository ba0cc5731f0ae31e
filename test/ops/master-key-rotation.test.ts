import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { SecretBox } from '../../packages/server/src/core/crypto.js';
import { createMcubeServer } from '../../packages/server/src/app.js';
import { bootstrap } from '../../packages/server/src/features/tenants/bootstrap.js';
import { mcube, publishFixture, rsaKeyPair, uploadFile } from '../helpers/nebula.js';
import { ADMIN_MAIN, runCommand } from '../helpers/process.js';
import { makeTestEnv, startTestServer, TEST_CREDS, type TestServer } from '../helpers/server.js';
import { sealedValues } from '../../packages/server/src/features/tenants/master-key.js';
import type { Knex } from 'knex';
import { uploadWithToken, type FileToken } from '../helpers/upload.js';
import { createPackage, fakeApp } from '../upgrade/upgrade-fixtures.js';

/**
 * Rotating MCUBE_MASTER_KEY on a database that holds sealed secrets (an AccessKey
 * made by the admin command, the app's RSA signing key), following the four steps
 * of docs/configuration.md: the new key open-only, the swap, `master-key reseal`,
 * the old key gone.
 */
const env = makeTestEnv();
afterAll(() => env.cleanup());
const OLD = env.env.MCUBE_MASTER_KEY!;
const NEW = randomBytes(32).toString('base64');

async function start(key: string, openOnly = ''): Promise<TestServer> {
  const config = loadConfig({ ...env.env, MCUBE_MASTER_KEY: key, MCUBE_MASTER_KEY_OPEN_ONLY: openOnly });
  const node = await createMcubeServer(config, { logSink: () => {} });
  await bootstrap(config, node.deps.db, node.deps.box);
  const { port } = await node.listen();
  const url = `http://127.0.0.1:${port}`;
  config.publicUrl = url;
  return { node, url, host: `127.0.0.1:${port}`, port, creds: TEST_CREDS, logs: [], env, close: () => node.close() };
}

const admin = (key: string, openOnly: string, ...args: string[]) =>
  runCommand(process.execPath, [ADMIN_MAIN, ...args], { ...env.env, MCUBE_MASTER_KEY: key, MCUBE_MASTER_KEY_OPEN_ONLY: openOnly });

describe('master key rotation', () => {
  it('keeps every secret, link and upload form working through the four steps, and the old key opens nothing after them', async () => {
    // Before: everything sealed and signed with the old key.
    let srv = await start(OLD);
    const made = await admin(OLD, '', 'keys', 'create', '--tenant', TEST_CREDS.tenantId, '--json');
    expect(made.code, made.stderr).toBe(0);
    const ci = JSON.parse(made.stdout) as { accessKeyId: string; accessKeySecret: string };
    const ciCreds = { ...TEST_CREDS, accessKeyId: ci.accessKeyId, accessKeySecret: ci.accessKeySecret };
    let call = mcube(srv);
    expect((await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'k.pem', Buffer.from(rsaKeyPair().privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
    const first = await publishFixture(srv, { version: '1.0.0.0' });
    const oldLink = String(first.info.DownloadUrl);
    expect(oldLink).toContain('X-Mcube-Signature=');
    const oldToken = (await call('GetMcubeFileToken', { OnexFlag: true })).GetFileTokenResult.FileToken as FileToken;
    // a package behind a verification code: its QR code is signed with the master key
    const gated = await createPackage(call, { Platform: 'iOS', IsEnterprise: 1, AppVersion: '3.0.0', NeedCheck: 1, FileUrl: await uploadFile(call, 'Shop.ipa', await fakeApp('ipa')) });
    const qr = async () => (await call('GetMcubeUpgradePackageInfo', { PackageId: gated })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO.QrcodeUrl as string;
    const oldQr = new URL(await qr()).pathname;
    expect(oldQr).toMatch(/^\/download\/\d+\.[A-Za-z0-9_-]{22}$/);
    expect((await fetch(srv.url + oldQr)).status).toBe(200);
    await srv.close();

    // Step 1 and 2 in one restart (one node): the new key seals, the old one still opens.
    srv = await start(NEW, OLD);
    call = mcube(srv);
    const ciCall = mcube(srv, ciCreds);
    expect((await ciCall('QueryMcubeVhost')).ResultCode).toBe('OK');
    expect((await fetch(oldLink.replace(/^http:\/\/[^/]+/, srv.url))).status).toBe(200);
    // a form signed before the swap still uploads (its host names the old port: post to this node)
    expect(await uploadWithToken({ ...oldToken, Host: oldToken.Host.replace(/^http:\/\/[^/]+/, srv.url) }, 'late.txt', Buffer.from('late'))).toContain('late.txt');
    const second = await publishFixture(srv, { version: '1.0.0.1' });
    expect(second.info.DownloadUrl).toContain('X-Mcube-Signature=');
    // the printed QR code still opens its page; the one the actions give now is signed with the new key
    expect((await fetch(srv.url + oldQr)).status).toBe(200);
    const newQr = new URL(await qr()).pathname;
    expect(newQr).not.toBe(oldQr);
    expect((await fetch(srv.url + newQr)).status).toBe(200);

    const status = await admin(NEW, OLD, 'master-key', 'status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const before = JSON.parse(status.stdout);
    // the bootstrap key, the admin-made key and the RSA key were sealed with the old key
    expect(before).toEqual({
      accessKeys: { current: 0, older: 2, unreadable: [] },
      rsaKeys: { current: 0, older: 1, unreadable: [] },
      masterKeyCheck: { current: 0, older: 1, unreadable: [] },
      complete: false,
    });
    // the rotation goes to this new key: a node or admin run with any other (a typo) is refused, before it seals anything
    const TYPO = randomBytes(32).toString('base64');
    const typo = await admin(TYPO, OLD, 'master-key', 'reseal');
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain('MCUBE_MASTER_KEY is not the key this database is being rotated to');
    await expect(start(TYPO, OLD)).rejects.toThrow(/not the key this database is being rotated to/);

    // Step 3: reseal, while the node runs; a second run finds nothing left to do.
    const reseal = await admin(NEW, OLD, 'master-key', 'reseal');
    expect(reseal.code, reseal.stderr).toBe(0);
    expect(reseal.stdout).toContain('AccessKey secrets: 0 sealed with the master key, 2 sealed again with it now');
    expect(reseal.stdout).toContain('RSA signing keys: 0 sealed with the master key, 1 sealed again with it now');
    const again = JSON.parse((await admin(NEW, OLD, 'master-key', 'reseal', '--json')).stdout);
    expect(again).toEqual({
      accessKeys: { current: 2, older: 0, unreadable: [] },
      rsaKeys: { current: 1, older: 0, unreadable: [] },
      masterKeyCheck: { current: 1, older: 0, unreadable: [] },
      complete: true,
    });
    // the running node still answers with both keys, and still signs packages
    expect((await ciCall('QueryMcubeVhost')).ResultCode).toBe('OK');
    await srv.close();

    // Step 4: the old key is gone. Every secret opens with the new key alone.
    const alone = new SecretBox(Buffer.from(NEW, 'base64'));
    const k = (await start(NEW)).node;
    const rows = await k.deps.db.knex('access_keys').select('id', 'secret_enc');
    expect(rows.map((r: { id: string; secret_enc: string }) => alone.open(r.secret_enc, `ak:${r.id}`).toString()).sort()).toEqual(
      [TEST_CREDS.accessKeySecret, ci.accessKeySecret].sort(),
    );
    await k.close();
    srv = await start(NEW);
    expect((await mcube(srv, ciCreds)('QueryMcubeVhost')).ResultCode).toBe('OK');
    const third = await publishFixture(srv, { version: '1.0.0.2' });
    expect((await fetch(String(third.info.DownloadUrl).replace(/^http:\/\/[^/]+/, srv.url))).status).toBe(200);
    // links and QR codes signed with the old key no longer verify
    expect((await fetch(oldLink.replace(/^http:\/\/[^/]+/, srv.url))).status).toBe(403);
    expect((await fetch(srv.url + oldQr)).status).toBe(404);
    expect((await fetch(srv.url + newQr)).status).toBe(200);
    await srv.close();

    // and the old key alone opens nothing: the node and the admin command refuse it
    await expect(start(OLD)).rejects.toThrow(/The master key does not open the secrets in this database/);
    const refused = await admin(OLD, '', 'keys', 'list');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('The master key does not open the secrets in this database');
  }, 120_000);

  it('refuses an open-only key that is not 32 bytes of base64, naming the variable', () => {
    expect(() => loadConfig({ ...env.env, MCUBE_MASTER_KEY_OPEN_ONLY: `${NEW},c2hvcnQ=` })).toThrow('MCUBE_MASTER_KEY_OPEN_ONLY: key 2 must be 32 bytes, base64-encoded');
    expect(loadConfig({ ...env.env, MCUBE_MASTER_KEY_OPEN_ONLY: ` ${NEW} , ${OLD} ` }).masterKeysOpenOnly.map((b) => b.toString('base64'))).toEqual([NEW, OLD]);
  });

  it('reseal never writes back over a key a running node replaced after it was read', async () => {
    const srv = await startTestServer();
    try {
      const call = mcube(srv);
      expect((await call('UploadMcubeRsaKey', { FileUrl: await uploadFile(call, 'k.pem', Buffer.from(rsaKeyPair(1024).privatePem)), OnexFlag: true })).ResultCode).toBe('OK');
      const knex = srv.node.deps.db.knex;
      const was = Buffer.from(srv.env.env.MCUBE_MASTER_KEY!, 'base64');
      const box = new SecretBox(Buffer.from(NEW, 'base64'), [was]);
      const aad = `rsa:${TEST_CREDS.appId}:${TEST_CREDS.workspaceId}`;
      // between reading the row and writing it back sealed anew, a node stores another key
      let raced = false;
      const racing = new Proxy(knex, {
        apply(target, self, args: Parameters<Knex>) {
          const qb = Reflect.apply(target, self, args) as Knex.QueryBuilder;
          if (args[0] !== 'rsa_keys' || raced) return qb;
          const update = qb.update.bind(qb) as (v: object) => Promise<number>;
          (qb as unknown as { update: unknown }).update = (values: object) => {
            raced = true;
            return knex('rsa_keys').update({ private_key_enc: box.seal('replaced by a node', aad) }).then(() => update(values));
          };
          return qb;
        },
      });
      const report = await sealedValues(racing, box, { reseal: true });
      expect(raced).toBe(true);
      expect(report.rsaKeys).toEqual({ current: 1, older: 0, unreadable: [] });
      const row = await knex('rsa_keys').first('private_key_enc');
      expect(box.open(row.private_key_enc, aad).toString()).toBe('replaced by a node');
    } finally {
      await srv.close();
    }
  });

  it('nodes starting together on an empty database with different master keys: one key sets it up, the others are refused', async () => {
    const fresh = makeTestEnv();
    try {
      const keys = [0, 1, 2, 3].map(() => randomBytes(32).toString('base64'));
      const starts = await Promise.allSettled(keys.map((key) => createMcubeServer(loadConfig({ ...fresh.env, MCUBE_MASTER_KEY: key }), { logSink: () => {} })));
      const up = starts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const refused = starts.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      for (const node of up) await node.close();
      expect(up).toHaveLength(1);
      expect(refused).toHaveLength(3);
      for (const why of refused) expect(why).toContain('The master key does not open the secrets in this database');
      // the winner's key is the one the database now opens with
      const winner = keys[starts.findIndex((r) => r.status === 'fulfilled')]!;
      const again = await createMcubeServer(loadConfig({ ...fresh.env, MCUBE_MASTER_KEY: winner }), { logSink: () => {} });
      await again.close();
    } finally {
      await fresh.cleanup();
    }
  });

  it('a reseal that cannot seal every secret again leaves the check as it was, so a node with the new key alone is still refused', async () => {
    const fresh = makeTestEnv();
    const A = fresh.env.MCUBE_MASTER_KEY!;
    const B = randomBytes(32).toString('base64');
    const run = (key: string, openOnly: string, ...args: string[]) =>
      runCommand(process.execPath, [ADMIN_MAIN, ...args], { ...fresh.env, MCUBE_MASTER_KEY: key, MCUBE_MASTER_KEY_OPEN_ONLY: openOnly });
    const node = async (key: string, openOnly = '') => {
      const config = loadConfig({ ...fresh.env, MCUBE_MASTER_KEY: key, MCUBE_MASTER_KEY_OPEN_ONLY: openOnly });
      const n = await createMcubeServer(config, { logSink: () => {} });
      await bootstrap(config, n.deps.db, n.deps.box);
      return n;
    };
    try {
      const first = await node(A);
      // a secret sealed with a key nobody configured (a restored row, a lost key): reseal cannot open it
      await first.deps.db.knex('rsa_keys').insert({
        app_id: 'LOSTAPP', workspace_id: 'default', private_key_enc: new SecretBox(randomBytes(32)).seal('x', 'rsa:LOSTAPP:default'), public_key_pem: '', bits: 2048, updated_at: 0,
      });
      await first.close();
      const r = await run(B, A, 'master-key', 'reseal', '--json');
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ accessKeys: { older: 1 }, rsaKeys: { unreadable: ['LOSTAPP/default'] }, masterKeyCheck: { current: 0, older: 0 }, complete: false });
      expect((await run(B, A, 'master-key', 'reseal')).stdout).toContain('the master key check was left as it was');
      await expect(node(B)).rejects.toThrow(/master key does not open the secrets/);
      // the row dealt with (here: removed), reseal finishes, and the new key alone opens the database
      const during = await node(B, A);
      await during.deps.db.knex('rsa_keys').where({ app_id: 'LOSTAPP' }).delete();
      await during.close();
      expect((await run(B, A, 'master-key', 'reseal')).code).toBe(0);
      await (await node(B)).close();
    } finally {
      await fresh.cleanup();
    }
  });
});
