import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJanitor } from '../../packages/server/src/features/janitor/index.js';
import { mcube } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0' });
});
afterAll(async () => {
  await srv.close();
});

const DAY = 86_400_000;

describe('audit log size', () => {
  it('the janitor deletes audit rows past MCUBE_AUDIT_RETENTION_DAYS, oldest first, and keeps the rest; 0 keeps all', async () => {
    const { deps } = srv.node;
    const { knex } = deps.db;
    const now = Date.now();
    const row = (ageDays: number, i: number) => ({
      request_id: `retention-${ageDays}-${i}`,
      tenant_id: 'TENANT01',
      access_key_id: 'MCAKRETENTION',
      action: 'CreateMcubeVhost',
      params: '{}',
      http_status: 200,
      result_code: 'OK',
      created_at: now - ageDays * DAY,
    });
    // ids grow with time, as the server writes them: 12,000 old rows (more than one delete range), then 30 recent
    await knex.batchInsert('audit_log', Array.from({ length: 12_000 }, (_, i) => row(100, i)), 400);
    await knex('audit_log').insert(Array.from({ length: 30 }, (_, j) => row(5, j)));
    const count = async (prefix: string) => Number((await knex('audit_log').where('request_id', 'like', `${prefix}%`).count({ n: '*' }))[0]!.n);

    const keepAll = await runJanitor(deps);
    expect(keepAll.auditSwept).toBe(0);
    expect(await count('retention-100-')).toBe(12_000);

    const report = await runJanitor({ ...deps, config: { ...deps.config, janitor: { ...deps.config.janitor, auditRetentionDays: 30 } } });
    expect(report.auditSwept).toBe(12_000);
    expect(await count('retention-100-')).toBe(0);
    expect(await count('retention-5-')).toBe(30);
  });

  it('a huge parameter value is recorded cut to its first 2,048 characters, with its length', async () => {
    const call = mcube(srv);
    const list = (await call('CreateMcubeWhitelist', { WhiteListName: 'audit-big', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId as string;
    const ids = Array.from({ length: 5000 }, (_, i) => `user-${i}`).join(',');
    const r = await call('UpdateMcubeWhitelist', { Id: list, KeyIds: ids });
    expect(r.ResultCode).toBe('OK');
    const audit = await srv.node.deps.db.knex('audit_log').where({ request_id: r.RequestId }).first('params');
    const recorded = JSON.parse(audit.params).KeyIds as string;
    expect(recorded).toBe(`${ids.slice(0, 2048)}… (${ids.length} characters in all)`);
    expect(Number((await srv.node.deps.db.knex('whitelist_entries').where({ whitelist_id: Number(list) }).count({ n: '*' }))[0]!.n)).toBe(5000);
  });

  it('parameters no action reads are recorded only 32, their names and values cut to 64 characters: a call cannot leave a huge row', async () => {
    const call = mcube(srv);
    const made: Record<string, string> = {};
    for (let i = 0; i < 240; i++) made[`X${i}${'n'.repeat(2000)}`] = 'v'.repeat(2000);
    const r = await call('DeleteMcubeWhitelist', { Id: '987654321', RegionId: 'cn-hangzhou', ...made });
    expect(r.ResultCode).not.toBe('OK');
    const audit = await srv.node.deps.db.knex('audit_log').where({ request_id: r.RequestId }).first('params');
    expect(audit.params.length).toBeLessThan(8000);
    const recorded = JSON.parse(audit.params);
    // declared parameters as they came; undeclared ones: the first 32 (RegionId among them), cut, and a count of the rest
    expect(String(recorded.Id)).toBe('987654321');
    expect(recorded.RegionId).toBe('cn-hangzhou');
    const cut = Object.keys(recorded).filter((k) => k.startsWith('X'));
    expect(cut).toHaveLength(31);
    expect(cut.every((k) => k.length === 65 && k.endsWith('…'))).toBe(true);
    expect(recorded[cut[0]!]).toBe(`${'v'.repeat(64)}… (2000 characters in all)`);
    expect(recorded['(undeclared)']).toBe('209 more parameters no action reads, not recorded');
  });
});
