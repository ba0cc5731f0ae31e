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

const listeners = async (of: TestServer = srv): Promise<number[]> => {
  // asked through this file's main server: the other one may be in a simulated outage
  const rows = await knex().raw('select pid from pg_stat_activity where application_name = ?', [listenerName(of.env.schema)]);
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

  it(
    pg
      ? 'after an outage, the first poll that reaches the database again brings the LISTEN connection back, before its back-off ends'
      : 'after polls failed, the next ones pick changes up again',
    async () => {
      const other = await startTestServer({ MCUBE_STAMP_POLL_MS: '100', MCUBE_DEVICE_RATE_PER_MIN: '0' });
      const db = other.node.deps.db as { knex: unknown };
      const knexOf = db.knex;
      const ask2 = async () =>
        (await deviceCheck(other.url, { platform: 'android', client: '2.0', userId: 'w', query: queryOf({ '77770003': '' }) }, { clientKey: other.creds.clientKey })).body.data.length;
      try {
        // a snapshot to keep fresh, so the poll reads the stamps
        expect(await ask2()).toBe(0);
        // the outage: every query of the node fails (fault injection on its query builder) ...
        const down = () => {
          db.knex = () => {
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          };
        };
        if (pg) {
          // ... and so does every new connection of the listener
          const client = (knexOf as { client: { acquireRawConnection(): Promise<unknown> } }).client;
          const real = client.acquireRawConnection.bind(client);
          let refuse = true;
          client.acquireRawConnection = async () => {
            if (refuse) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
            return real();
          };
          await until(async () => (await listeners(other)).length === 1);
          down();
          await knex().raw('select pg_terminate_backend(?)', [(await listeners(other))[0]!]);
          // down until the listener's next attempt is 4 s away (250, 500, 1000, 2000, then 4000 ms)
          const waiting = () => other.logs.some((l) => l.includes('delivery LISTEN failed') && JSON.parse(l).inMs >= 4000);
          await until(async () => waiting(), 15_000);
          const t0 = Date.now();
          db.knex = knexOf;
          refuse = false;
          await until(async () => (await listeners(other)).length === 1, 10_000);
          // a poll (every 100 ms) brought it back; the back-off timer alone would have taken 4 s
          expect(Date.now() - t0).toBeLessThan(2500);
        } else {
          down();
          await until(async () => other.logs.some((l) => l.includes('delivery stamp poll failed')));
          db.knex = knexOf;
        }
      } finally {
        db.knex = knexOf;
      }
      try {
        // and changes arrive again
        const k = other.node.deps.db.knex;
        const r = await insertResource(k, { h5_id: '77770004', h5_version: '1.0' });
        await insertTask(k, r);
        await bump(other.node.deps.db);
        await until(async () => (await deviceCheck(other.url, { platform: 'android', client: '2.0', userId: 'w', query: queryOf({ '77770004': '' }) }, { clientKey: other.creds.clientKey })).body.data.length === 1);
      } finally {
        await other.close();
      }
    },
    30_000,
  );
});
