import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, publishFixture, type Call } from '../helpers/nebula.js';
import { startTestServer, testDb, testPgUrl, type TestServer } from '../helpers/server.js';
import { androidPackage } from '../upgrade/upgrade-fixtures.js';

let srv: TestServer;
let call: Call;
let outside: Knex | null = null;

beforeAll(async () => {
  srv = await startTestServer();
  call = mcube(srv);
  if (testDb === 'postgres') outside = knexFactory({ client: 'pg', connection: testPgUrl, searchPath: [srv.env.schema!], pool: { min: 1, max: 1 } });
});
afterAll(async () => {
  await outside?.destroy();
  await srv?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DeleteMcubeWhitelist racing a task that is being created with that list', () => {
  it.each([
    ['CreateMcubeNebulaTask', 'nebula_tasks'],
    ['CreateMcubeUpgradeTask', 'upgrade_tasks'],
  ])(
    `%s and the delete never both succeed: the list is in use, or the task finds no list (${
      testDb === 'postgres' ? 'the delete forced between the check and the INSERT' : 'unforced: SQLite runs writing transactions one at a time'
    })`,
    async (action, table) => {
      const list = (await call('CreateMcubeWhitelist', { WhiteListName: `race-${action}`, WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId as string;
      let body: Record<string, unknown>;
      if (action === 'CreateMcubeNebulaTask') {
        const pkg = await publishFixture(srv, { h5Id: '60000001', version: '1.0.0.1' });
        body = { Id: 0, PackageId: pkg.resourceId, BizType: 'nebula', PublishType: 2, PublishMode: 1, WhitelistIds: list, Memo: 'race' };
      } else {
        const packageId = await androidPackage(call, '7.0.0');
        body = { PackageInfoId: packageId, PublishType: 2, PublishMode: 1, WhitelistIds: list, UpgradeType: 202, Memo: 'race' };
      }
      // PostgreSQL: an outside SHARE lock on the task table holds the create between its whitelist check and its
      // INSERT, so the delete runs inside that window every time (the interleaving that used to leave a task whose
      // list was gone). SQLite serialises writing transactions, and its synchronous driver cannot be held inside
      // that window from outside (a lock taken elsewhere stalls this whole process), so there the two calls race
      // unforced and the test checks only the outcome.
      const trx = outside ? await outside.transaction() : null;
      if (trx) await trx.raw(`LOCK TABLE ?? IN SHARE MODE`, [table]);
      const creating = call(action, body);
      if (trx) await sleep(300);
      const deleting = call('DeleteMcubeWhitelist', { Id: list });
      if (trx) {
        await sleep(300);
        await trx.commit();
      }
      const [created, deleted] = await Promise.all([creating, deleting]);
      const okCreate = created.ResultCode === 'OK';
      const okDelete = deleted.ResultCode === 'OK';
      expect(okCreate !== okDelete, JSON.stringify({ created, deleted })).toBe(true);
      if (okCreate) expect(deleted.ResultCode).toBe('WhitelistInUse');
      else expect(created.ResultCode).toMatch(/^Invalid/);
      const listRows = await srv.node.deps.db.knex('whitelists').where({ id: Number(list) }).count({ n: '*' });
      expect(Number(listRows[0]!.n)).toBe(okCreate ? 1 : 0);
      if (trx) expect(okCreate).toBe(true);
    },
  );
});
