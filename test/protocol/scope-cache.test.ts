// The RPC scope check caches app/workspace ownership per node, but never an
// absence: an app or workspace provisioned elsewhere (another node, the admin
// command) is usable at once.
import { describe, expect, it } from 'vitest';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { useTestServer } from '../helpers/suite.js';

const suite = useTestServer();

describe('scope cache', () => {
  it('an app, then a workspace, created right after a refused call are accepted on the next call', async () => {
    const { srv, call } = suite;
    const tenants = new TenantStore(srv.node.deps.db, srv.node.deps.box);
    const ask = (workspaceId: string) => call('QueryMcubeVhost', { AppId: 'NEWAPP0000001', WorkspaceId: workspaceId, TenantId: srv.creds.tenantId }).catch((e) => e);
    expect((await ask('default')).code).toBe('Forbidden');
    await tenants.ensureApp(srv.creds.tenantId, 'NEWAPP0000001');
    await tenants.ensureWorkspace('NEWAPP0000001', 'default');
    expect((await ask('default')).body.ResultCode).toBe('OK');
    expect((await ask('ws2')).code).toBe('InvalidParameter');
    await tenants.ensureWorkspace('NEWAPP0000001', 'ws2');
    expect((await ask('ws2')).body.ResultCode).toBe('OK');
  });
});
