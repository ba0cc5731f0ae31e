import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenerName } from '../../packages/server/src/features/delivery/stamp-watcher.js';
import { bump, insertResource, insertTask } from '../helpers/delivery-fixtures.js';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { startTestServer, testDb, type TestServer } from '../helpers/server.js';

/**
 * A change committed by another writer (no local onChange) reaches the node:
 * on PostgreSQL through LISTEN/NOTIFY alone (the poll is set to ten minutes
 * here), also after the LISTEN connection was killed; on SQLite through the
 * stamp poll.
 */
let srv: TestServer;
const pg = testDb === 'postgres';
const knex = () => srv.node.deps.db.knex;

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_STAMP_POLL_MS: pg ? '600000' : '100', MCUBE_DEVICE_RATE_PER_MIN: '0' });
});
afterAll(async () => {
  await srv?.close();
});

const ask = async (h5Id: string) =>
  (await deviceCheck(srv.url, { platform: 'android', client: '2.0', userId: 'w', query: queryOf({ [h5Id]: '' }) }, { clientKey: srv.creds.clientKey })).body.data.length;

async function until(cond: () => Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A package released by "another node": rows and the stamp (with its NOTIFY), but no local onChange. */
async function releaseElsewhere(h5Id: string): Promise<void> {
  const r = await insertResource(knex(), { h5_id: h5Id, h5_version: '1.0' });
  await insertTask(knex(), r);
  await bump(srv.node.deps.db);
}

const listeners = async (): Promise<number[]> => {
  const rows = await knex().raw('select pid from pg_stat_activity where application_name = ?', [listenerName(srv.env.schema)]);
  return rows.rows.map((r: { pid: number }) => r.pid);
};

describe('stamp watcher', () => {
  it('a change without a local onChange reaches the node', async () => {
    expect(await ask('77770001')).toBe(0);
    await releaseElsewhere('77770001');
    await until(async () => (await ask('77770001')) === 1);
  });

  it(pg ? 'the LISTEN connection reconnects after being killed' : 'the poll keeps running after a change', async () => {
    if (pg) {
      await until(async () => (await listeners()).length === 1);
      const old = (await listeners())[0]!;
      await knex().raw('select pg_terminate_backend(?)', [old]);
      await until(async () => {
        const now = await listeners();
        return now.length === 1 && now[0] !== old;
      });
    }
    expect(await ask('77770002')).toBe(0);
    await releaseElsewhere('77770002');
    await until(async () => (await ask('77770002')) === 1);
  });
});
