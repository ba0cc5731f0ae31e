import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, publishFixture, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** A deployment whose scripts were written for the vendor's service: wire times in China Standard Time. */
let srv: TestServer;
let call: Call;
let pkg: number;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_WIRE_TIME_ZONE: '+08:00' });
  call = mcube(srv);
  pkg = (await publishFixture(srv, { h5Id: '61000001', version: '1.0.0.1' })).resourceId;
});
afterAll(async () => {
  await srv?.close();
});

const cst = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().replace('T', ' ').slice(0, 19);

describe('MCUBE_WIRE_TIME_ZONE=+08:00', () => {
  it('reads a zone-less GreyEndtimeData in that zone, honours an explicit one, and writes Gmt* in that zone', async () => {
    const end = Math.floor((Date.now() + 2 * 86400_000) / 1000) * 1000;
    const create = async (GreyEndtimeData: string) => {
      const r = await call('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, BizType: 'nebula', PublishType: 2, PublishMode: 2, GreyEndtimeData, GreyNum: 10, Memo: 'tz' });
      expect(r.ResultCode, JSON.stringify(r)).toBe('OK');
      return Number(r.CreateMcubeNebulaTaskResult.NebulaTaskId);
    };
    const zoneless = await create(cst(end));
    const explicit = await create(`${new Date(end).toISOString().slice(0, 19).replace('T', ' ')}Z`);
    const rows = await srv.node.deps.db.knex('nebula_tasks').whereIn('id', [zoneless, explicit]).orderBy('id').select('grey_endtime', 'created_at');
    expect(rows.map((r) => Number(r.grey_endtime))).toEqual([end, end]);
    const detail = (await call('GetMcubeNebulaTaskDetail', { TaskId: zoneless })).GetMcubeNebulaTaskDetailResult.NebulaTaskDetail;
    expect(detail.GreyEndtimeData).toBe(cst(end));
    expect(detail.GmtCreate).toBe(cst(Number(rows[0]!.created_at)));
    // an end time 6 days 20 hours ahead in China time is within the 7 days (read as UTC it would be 8 hours further)
    expect((await call('CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, BizType: 'nebula', PublishType: 2, PublishMode: 2, GreyEndtimeData: cst(Date.now() + (6 * 24 + 20) * 3600_000), GreyNum: 1 })).ResultCode).toBe('OK');
  });
});
