import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { makeH5Zip, mcube, uploadFile, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { AUTH_TABLES, listKeys, tableCounts } from '../reliability/lib/db-state.js';

export interface Upgrade {
  srv: TestServer;
  /** tenant A (the test key) through @alicloud/openapi-core, ACS3 */
  a: Call;
  /** tenant B, another tenant on the same server */
  b: Call;
  B: { accessKeyId: string; accessKeySecret: string; tenantId: string; appId: string; workspaceId: string };
}

/** A server with a second tenant B (own app, key and uploads). */
export async function startUpgradeServer(overrides: Record<string, string> = {}): Promise<Upgrade> {
  const srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0', ...overrides });
  const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
  const B = { accessKeyId: '', accessKeySecret: '', tenantId: 'TENANT02', appId: 'ALIPUB0000002', workspaceId: 'default' };
  await tenants.ensureTenant(B.tenantId);
  await tenants.ensureApp(B.tenantId, B.appId);
  await tenants.ensureWorkspace(B.appId, B.workspaceId);
  const key = await tenants.createAccessKey(B.tenantId);
  B.accessKeyId = key.id;
  B.accessKeySecret = key.secret;
  return { srv, a: mcube(srv), b: mcube(srv, B), B };
}

/** An .apk / .ipa / .hap is a zip archive; this one is real (and small). */
export async function fakeApp(tag = 'app'): Promise<Buffer> {
  return makeH5Zip('12345678', { 'AndroidManifest.xml': `<manifest package="com.example.${tag}"/>`, 'classes.dex': Buffer.from(tag.repeat(50)) });
}

export const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 1)]);
export const TGZ = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.alloc(64, 2)]);

export const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

export async function upload(call: Call, name: string, data: Buffer): Promise<string> {
  return uploadFile(call, name, data);
}

/** Creates a package; returns its id (a number) or throws with the answer. */
export async function createPackage(call: Call, fields: Record<string, unknown>): Promise<number> {
  const r = await call('CreateMcubeUpgradePackage', { OnexFlag: true, ...fields });
  if (r.ResultCode !== 'OK') throw new Error(`CreateMcubeUpgradePackage failed: ${JSON.stringify(r)}`);
  expect(r.ResultContent.Success).toBe(true);
  expect(typeof r.ResultContent.Data).toBe('string');
  return Number(r.ResultContent.Data);
}

export async function androidPackage(call: Call, version: string, extra: Record<string, unknown> = {}): Promise<number> {
  return createPackage(call, { Platform: 'Android', AppVersion: version, FileUrl: await upload(call, `shop-${version}.apk`, await fakeApp(version)), ...extra });
}

export async function createUpgradeTask(call: Call, packageId: number, fields: Record<string, unknown> = {}): Promise<number> {
  const r = await call('CreateMcubeUpgradeTask', { PackageInfoId: packageId, PublishType: 3, UpgradeType: 202, ...fields });
  if (r.ResultCode !== 'OK') throw new Error(`CreateMcubeUpgradeTask failed: ${JSON.stringify(r)}`);
  return Number(r.CreateTaskResult.upgradeTaskId);
}

/**
 * Everything a refused call must leave alone: row counts of every table (the
 * per-request auth tables aside), the delivery stamps, the blob registry and
 * the stored objects under pkg/.
 */
export async function stateOf(srv: TestServer): Promise<string> {
  const { db, blobs } = srv.node.deps;
  const counts = await tableCounts(db);
  for (const t of AUTH_TABLES) delete counts[t];
  return JSON.stringify({
    counts,
    stamps: await db.knex('change_stamps').select('*').orderBy(['app_id', 'workspace_id']),
    blobs: await db.knex('blobs').select('key', 'state').orderBy('key'),
    packages: await db.knex('upgrade_packages').select('*').orderBy('id'),
    tasks: await db.knex('upgrade_tasks').select('*').orderBy('id'),
    objects: await listKeys(blobs, 'pkg/'),
  });
}

/** A plain HTTP server that counts every request it gets (for "never fetched" checks). */
export async function countingServer(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    n++;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(Buffer.from('PK\u0003\u0004 not really'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits: () => n, close: () => new Promise((r) => server.close(() => r())) };
}
