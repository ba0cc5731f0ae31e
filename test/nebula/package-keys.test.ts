import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { makeH5Zip, mcube, uploadFile, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** A tenant with one app and workspace and its own AccessKey, as the admin command provisions them. */
async function tenant(tenantId: string, appId: string, workspaceId: string): Promise<Call> {
  const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
  await tenants.ensureTenant(tenantId);
  await tenants.ensureApp(tenantId, appId);
  await tenants.ensureWorkspace(appId, workspaceId);
  const key = await tenants.createAccessKey(tenantId);
  const call = mcube(srv, { accessKeyId: key.id, accessKeySecret: key.secret, tenantId, appId, workspaceId });
  expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
  return call;
}

async function publish(call: Call, h5Id: string, version: string) {
  const FileUrl = await uploadFile(call, `${h5Id}.zip`, await makeH5Zip(h5Id));
  return call('CreateMcubeNebulaResource', {
    H5Id: h5Id, H5Name: 'shop', H5Version: version, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
    FileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
  });
}

describe('package storage keys', () => {
  it('two tenants whose app and workspace ids join to the same text ("SHOP-prod" + "eu", "SHOP" + "prod-eu") publish the same version side by side', async () => {
    const x = await tenant('TENANTX', 'SHOP-prod', 'eu');
    const y = await tenant('TENANTY', 'SHOP', 'prod-eu');
    const first = await publish(x, '44440001', '1.0.0');
    expect(first.ResultCode, JSON.stringify(first)).toBe('OK');
    const second = await publish(y, '44440001', '1.0.0');
    expect(second.ResultCode, JSON.stringify(second)).toBe('OK');
    const rows = await srv.node.deps.db.knex('nebula_resources').where({ h5_id: '44440001' }).orderBy('id').select('app_id', 'amr_key');
    expect(rows).toEqual([
      { app_id: 'SHOP-prod', amr_key: expect.stringMatching(/^pkg\/SHOP-prod\/eu\/44440001\/[0-9a-f]{12}\/1\.0\.0_all\/nebula\/44440001_1\.0\.0\.amr$/) },
      { app_id: 'SHOP', amr_key: expect.stringMatching(/^pkg\/SHOP\/prod-eu\/44440001\/[0-9a-f]{12}\/1\.0\.0_all\/nebula\/44440001_1\.0\.0\.amr$/) },
    ]);
    for (const r of rows) expect(await srv.node.deps.blobs.head(r.amr_key)).not.toBeNull();
  });
});

describe('the fallback folder', () => {
  it("the janitor's folderOf finds a copied file's folder from packageKeys' layout, and nothing else", async () => {
    const { packageKeys } = await import('../../packages/server/src/features/nebula/resource-service.js');
    const { folderOf } = await import('../../packages/server/src/db/blob-registry.js');
    const keys = packageKeys({ appId: 'SHOP-prod', workspaceId: 'eu' }, { h5Id: '44440009', h5Version: '2.0.1', platform: 'Android' }, 'abcdef012345');
    expect(folderOf(`${keys.fallbackDir}www/fallback/index.html`)).toBe(keys.fallbackDir);
    expect(folderOf(keys.amrKey)).toBeNull();
    expect(folderOf(keys.jsonKey)).toBeNull();
    expect(folderOf('pkg/fallback/nebula/fallback/x.html')).toBeNull();
  });
});
