import { afterAll, expect, it } from 'vitest';
import { migrationSource } from '../../migrations/index.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { openDatabase } from '../../packages/server/src/db/database.js';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { createTask, makeH5Zip, publishFixture, uploadFile, utcIn } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Down migrations are for developers going back a version; they must not lose
 * the rows they do not concern. On SQLite, knex's portable dropColumn rebuilds
 * the table, and dropping the old one inside the migration's transaction
 * cascaded along foreign keys: every release task, admission and whitelist
 * entry was gone after undoing a migration that only dropped a column.
 */
let srv: TestServer | undefined;
afterAll(async () => {
  await srv?.env.cleanup();
});

const TABLES = ['nebula_resources', 'nebula_tasks', 'grey_admissions', 'whitelists', 'whitelist_entries', 'workspaces', 'blobs'];

it('undoing migrations 015 to 003 keeps the rows of other tables, refusing 013 while switch keys and 011 while mini programs exist; migrating up again restores the schema', async () => {
  srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '0' });
  const pkg = await publishFixture(srv, { h5Id: '44440001' });
  const wl = (await pkg.call('CreateMcubeWhitelist', { WhiteListName: 'keep', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
  await pkg.call('UpdateMcubeWhitelist', { Id: wl, KeyIds: 'alice,bob' });
  await createTask(pkg.call, pkg.resourceId, { PublishType: 2, PublishMode: 1, WhitelistIds: wl });
  await createTask(pkg.call, pkg.resourceId, { PublishType: 2, PublishMode: 2, GreyNum: 5, GreyEndtimeData: utcIn(3600_000) });
  const seen = await deviceCheck(srv.url, { platform: 'android', client: '2.0.0', userId: 'carol', query: queryOf({ '44440001': '' }) }, { clientKey: srv.creds.clientKey });
  expect(seen.body.data).toHaveLength(1);
  const MINI = '2024000044440001';
  await pkg.call('CreateMcubeMiniApp', { H5Id: MINI, H5Name: 'mini' });
  const miniUrl = await uploadFile(pkg.call, 'm.zip', await makeH5Zip(MINI));
  const up = await pkg.call('UploadMcubeMiniPackage', {
    H5Id: MINI, H5Name: 'mini', H5Version: '1.0', ResourceType: 1, PackageType: 1, Platform: 'all', ClientVersionMin: '1.0;1.0', ResourceFileUrl: miniUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
  });
  expect(up.ResultCode).toBe('OK');
  expect((await pkg.call('CreateMcubeSwitchConfig', { ConfigKey: 'kept.key', Values: '[{"Value":"on"}]' })).ResultCode).toBe('OK');
  await srv.node.close();

  const db = await openDatabase(loadConfig(srv.env.env));
  const knex = db.knex;
  const counts = async () => Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, Number(((await knex(t).count({ n: '*' }))[0] as { n: unknown }).n)] as const)));
  const latest = async () => (await knex('knex_migrations').orderBy('id', 'desc').first('name')).name as string;
  try {
    const before = await counts();
    expect(before.grey_admissions).toBe(1);
    expect(before.whitelist_entries).toBe(2);
    expect(before.nebula_tasks).toBe(2);

    await knex.migrate.down({ migrationSource }); // 015, the settings (the master key check)
    expect(await knex.schema.hasTable('settings')).toBe(false);
    await knex.migrate.down({ migrationSource }); // 014, a column
    expect(await knex.schema.hasColumn('nebula_resources', 'global_pack_url')).toBe(false);
    expect(await counts()).toEqual(before);
    await expect(knex.migrate.down({ migrationSource })).rejects.toThrow(/switch keys exist \(e\.g\. kept\.key\)/);
    expect(await latest()).toBe('013_switch_configs');
    await knex('switch_config_values').delete();
    await knex('switch_configs').delete();
    await knex.migrate.down({ migrationSource }); // 013
    expect(await knex.schema.hasTable('switch_configs')).toBe(false);
    await knex.migrate.down({ migrationSource }); // 012, an index
    await expect(knex.migrate.down({ migrationSource })).rejects.toThrow(/mini programs exist \(e\.g\. 2024000044440001\)/);
    expect(await latest()).toBe('011_mini_programs');
    expect(await counts()).toEqual(before);

    // the server is closed: the mini program goes directly
    await knex('nebula_tasks').whereRaw('length(h5_id) = 16').delete();
    await knex('nebula_resources').whereRaw('length(h5_id) = 16').delete();
    await knex('nebula_apps').whereRaw('length(h5_id) = 16').delete();
    const withoutMini = await counts();
    while ((await latest()) !== '002_upgrade') await knex.migrate.down({ migrationSource });
    expect(await counts()).toEqual(withoutMini);
    expect(await knex.schema.hasColumn('nebula_tasks', 'released_at')).toBe(false);
    expect(await knex.schema.hasColumn('whitelists', 'change_seq')).toBe(false);

    await knex.migrate.latest({ migrationSource });
    expect(await latest()).toBe('015_settings');
    expect(await counts()).toEqual(withoutMini);
    expect(await knex.schema.hasTable('switch_config_values')).toBe(true);
    expect(await knex.schema.hasColumn('nebula_resources', 'mini_info')).toBe(true);
    expect(await knex.schema.hasColumn('nebula_resources', 'global_pack_url')).toBe(true);
  } finally {
    await db.close();
  }
});
