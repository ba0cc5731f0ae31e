// The audit row of a management action is written before the action runs and
// completed with its outcome: a change never exists without its row, and a call
// whose row cannot be written changes nothing.
import { describe, expect, it } from 'vitest';
import { AUDIT_PENDING } from '../../packages/server/src/core/rpc.js';
import { useTestServer } from '../helpers/suite.js';

const suite = useTestServer();

const scope = () => ({ AppId: suite.srv.creds.appId, WorkspaceId: suite.srv.creds.workspaceId, TenantId: suite.srv.creds.tenantId });
const knex = () => suite.srv.node.deps.db.knex;
const vhost = async () => (await knex()('vhosts').where({ app_id: suite.srv.creds.appId, workspace_id: suite.srv.creds.workspaceId }).first())?.vhost ?? null;

describe('audit rows written ahead', () => {
  it('the row exists (Pending) while the action runs, and holds the outcome once it answered', async () => {
    const def = suite.srv.node.registry.get('CreateMcubeVhost')!;
    const original = def.handler;
    let during: Record<string, unknown> | undefined;
    def.handler = async (input, ctx) => {
      during = await knex()('audit_log').where({ request_id: ctx.requestId }).first();
      return original(input, ctx);
    };
    try {
      const r = await suite.call('CreateMcubeVhost', { ...scope(), Vhost: 'ahead.example.com' });
      expect(r.body.ResultCode).toBe('OK');
      expect(during).toMatchObject({ action: 'CreateMcubeVhost', result_code: AUDIT_PENDING, tenant_id: suite.srv.creds.tenantId });
      const rows = await knex()('audit_log').where({ request_id: r.body.RequestId }).select('*');
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ action: 'CreateMcubeVhost', http_status: 200, result_code: 'OK' });
      expect(JSON.parse(rows[0].params)).toMatchObject({ Vhost: 'ahead.example.com' });
    } finally {
      def.handler = original;
    }
  });

  it('a call whose audit row cannot be written is not run: an error answer, nothing changed', async () => {
    const before = await vhost();
    const pg = suite.srv.node.deps.db.dialect === 'pg';
    if (pg) {
      await knex().raw(`create or replace function mcube_test_no_audit() returns trigger language plpgsql as $$ begin raise exception 'audit refused'; end $$`);
      await knex().raw('create trigger mcube_test_no_audit before insert on audit_log for each row execute function mcube_test_no_audit()');
    } else {
      await knex().raw(`create trigger mcube_test_no_audit before insert on audit_log begin select raise(abort, 'audit refused'); end`);
    }
    try {
      const err: any = await suite.call('CreateMcubeVhost', { ...scope(), Vhost: 'unaudited.example.com' }).catch((e) => e);
      expect(err.statusCode ?? err.data?.statusCode).toBe(500);
      expect(err.code).toBe('InternalError');
      expect(await vhost()).toBe(before);
    } finally {
      await knex().raw(pg ? 'drop trigger mcube_test_no_audit on audit_log' : 'drop trigger mcube_test_no_audit');
      if (pg) await knex().raw('drop function mcube_test_no_audit()');
    }
    expect((await suite.call('CreateMcubeVhost', { ...scope(), Vhost: 'audited-again.example.com' })).body.ResultCode).toBe('OK');
    expect(await vhost()).toBe('audited-again.example.com');
  });
});
