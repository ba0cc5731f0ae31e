import knexFactory from 'knex';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { acs3 } from '../helpers/raw-client.js';
import { startTestServer, testPgUrl, type TestServer } from '../helpers/server.js';

/**
 * PostgreSQL only, in both suite runs. A statement on an open connection had no time limit: a lock held by a
 * forgotten psql session, or a link to the database that stopped answering, held signed calls without end, and the
 * node's shutdown then waited for them for good.
 */
const pgTarget = new URL(testPgUrl);
const schema = 'stall_' + randomBytes(5).toString('hex');
const outside = knexFactory({ client: 'pg', connection: testPgUrl, searchPath: [schema], pool: { min: 0, max: 2 } });

/** A TCP proxy to PostgreSQL that can stop passing bytes on (a stalled link: no error, no answer). */
async function stallableProxy() {
  let stalled = false;
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const up = connect(Number(pgTarget.port || 5432), pgTarget.hostname);
    sockets.push(client, up);
    client.on('data', (d) => void (stalled || up.write(d)));
    up.on('data', (d) => void (stalled || client.write(d)));
    for (const [a, b] of [[client, up], [up, client]] as const) {
      a.on('error', () => {});
      a.on('close', () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(testPgUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    stall: () => void (stalled = true),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let srv: TestServer | undefined;
let proxy: Awaited<ReturnType<typeof stallableProxy>> | undefined;
afterAll(async () => {
  await proxy?.close();
  await outside.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]).catch(() => {});
  await outside.destroy();
});

const query = () => acs3({ host: srv!.host, accessKeyId: srv!.creds.accessKeyId, secret: srv!.creds.accessKeySecret, action: 'QueryMcubeVhost', params: { AppId: srv!.creds.appId, WorkspaceId: srv!.creds.workspaceId } });

describe('PostgreSQL statement timeouts', () => {
  it('are sent when connecting, or left to the database role with MCUBE_DB_STATEMENT_TIMEOUTS=off (PgBouncer refuses them)', async () => {
    let n = 0;
    const shown = async (over: Record<string, string>) => {
      const s = await startTestServer({ DATABASE_URL: testPgUrl, MCUBE_DB_SCHEMA: `${schema}_t${++n}`, ...over });
      try {
        const hot = (await s.node.deps.db.all<{ statement_timeout: string }>('SHOW statement_timeout'))[0]!.statement_timeout;
        const main = (await s.node.deps.db.knex.raw('SHOW statement_timeout')).rows[0].statement_timeout as string;
        return { hot, main };
      } finally {
        await s.node.close();
        await s.env.cleanup();
      }
    };
    expect(await shown({})).toEqual({ hot: '5s', main: '1min' });
    expect(await shown({ MCUBE_DB_STATEMENT_TIMEOUTS: 'off' })).toEqual({ hot: '0', main: '0' });
    for (const i of [1, 2]) await outside.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [`${schema}_t${i}`]);
  }, 60_000);
});

describe('a PostgreSQL that stops answering', () => {
  it('a signed call waiting on a lock, then on a stalled link, answers 503; the node still shuts down', async () => {
    proxy = await stallableProxy();
    srv = await startTestServer({ DATABASE_URL: proxy.url, MCUBE_DB_SCHEMA: schema });
    expect((await query()).status).toBe(200);

    // a session holding the nonce table (a long transaction, a forgotten psql): the call is cancelled, not held
    const locker = await outside.transaction();
    try {
      await locker.raw('LOCK TABLE request_nonces IN ACCESS EXCLUSIVE MODE');
      const locked = await query();
      expect(locked.status, locked.text).toBe(503);
      expect(locked.body.Code).toBe('ServiceUnavailable');
    } finally {
      await locker.rollback();
    }
    expect((await query()).status).toBe(200);

    // the link stops passing bytes: no error ever comes, the client gives up
    proxy.stall();
    const stalled = await query();
    expect(stalled.status, stalled.text).toBe(503);
    expect(stalled.body.Code).toBe('ServiceUnavailable');

    // and the shutdown does not wait for the database for good
    await srv.node.close();
    await srv.env.cleanup();
    srv = undefined;
  }, 90_000);
});
