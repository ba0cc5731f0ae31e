// Seeds a fresh database with the delivery bench data set, straight through knex.
import type { Knex } from 'knex';
import type { Config } from '../../packages/server/src/config.js';
import { SecretBox } from '../../packages/server/src/core/crypto.js';
import { openDatabase } from '../../packages/server/src/db/database.js';
import { bumpStamp } from '../../packages/server/src/db/stamps.js';
import { bootstrap } from '../../packages/server/src/features/tenants/bootstrap.js';

export const BENCH_APPS = 100;
export const BENCH_VERSIONS = 10;
export const BENCH_WHITELIST_SIZE = 1_000_000;
export const BENCH_REGEX_COUNT = 20;

export const whitelistedId = (i: number) => 'u' + String(i).padStart(7, '0');
export const regexMatchingId = (i: number) => `qa${i % BENCH_REGEX_COUNT}-ab${i % 1000}`;
export const h5IdOf = (i: number) => String(10_000_000 + i);
export const versionOf = (v: number) => `1.0.${v}`;

const RULES = JSON.stringify([
  { ruleElement: 'city', operation: 2, value: 'Lhasa, Urumqi' },
  { ruleElement: 'osVersion', operation: 3, value: '8.0-17.0' },
  { ruleElement: 'netType', operation: 1, value: 'WIFI, 4G, 5G' },
]);

export interface Seeded {
  appId: string;
  workspaceId: string;
  clientKey: string;
  /** a releasing official task, paused and resumed to time propagation */
  probeTaskId: number;
  probeH5Id: string;
  tasks: number;
  ms: number;
}

async function insertId(knex: Knex, table: string, row: Record<string, unknown>): Promise<number> {
  const [r] = await knex(table).insert(row).returning('id');
  return Number(typeof r === 'object' ? (r as { id: unknown }).id : r);
}

/**
 * 100 H5 apps x 10 versions x 3 tasks. Versions 1-7 hold finished history;
 * 8 is officially released; 9 is in whitelist gray (the million-id list plus
 * the regex list, with advanced rules), percentage gray (20 %) and a time
 * window (50 users); 10 is in regex-whitelist gray and percentage gray (5 %),
 * its official task still to be released.
 */
export async function seedDelivery(config: Config): Promise<Seeded> {
  const t0 = Date.now();
  const db = await openDatabase(config);
  const boot = await bootstrap(config, db, new SecretBox(config.masterKey));
  const { knex } = db;
  const scope = { app_id: boot.appId, workspace_id: boot.workspaceId };
  const now = Date.now();
  await knex('vhosts').insert({ ...scope, vhost: 'h5app.com', updated_at: now });

  const normalList = await insertId(knex, 'whitelists', { ...scope, name: 'million', type: 'normal', entry_count: BENCH_WHITELIST_SIZE, created_at: now, modified_at: now });
  const regexList = await insertId(knex, 'whitelists', { ...scope, name: 'qa-regex', type: 'regex', entry_count: BENCH_REGEX_COUNT, created_at: now, modified_at: now });
  await knex.transaction(async (trx) => {
    // SQLite: knex inserts many rows as one compound SELECT, limited to 500 terms
    const chunk = db.dialect === 'sqlite' ? 500 : 5000;
    for (let i = 0; i < BENCH_WHITELIST_SIZE; i += chunk) {
      const rows = [];
      for (let j = i; j < Math.min(i + chunk, BENCH_WHITELIST_SIZE); j++) rows.push({ whitelist_id: normalList, value: whitelistedId(j) });
      await trx('whitelist_entries').insert(rows);
    }
    await trx('whitelist_entries').insert(Array.from({ length: BENCH_REGEX_COUNT }, (_, k) => ({ whitelist_id: regexList, value: `qa${k}-[a-z]{2}\\d{1,3}` })));
  });

  let tasks = 0;
  let probeTaskId = 0;
  let clock = now;
  await knex.transaction(async (trx) => {
    for (let a = 0; a < BENCH_APPS; a++) {
      const h5Id = h5IdOf(a);
      await trx('nebula_apps').insert({ ...scope, h5_id: h5Id, h5_name: `bench ${h5Id}`, resource_type: 1, created_at: now });
      for (let v = 1; v <= BENCH_VERSIONS; v++) {
        const version = versionOf(v);
        const dir = `pkg/${boot.appId}-${boot.workspaceId}/${h5Id}/${version}_all/nebula`;
        const resourceId = await insertId(trx, 'nebula_resources', {
          ...scope,
          h5_id: h5Id,
          h5_name: `bench ${h5Id}`,
          h5_version: version,
          resource_type: 1,
          platform: 'all',
          client_version_min: '1.0.0;1.0.0',
          client_version_max: '',
          main_url: '/www/index.html',
          sub_url: '',
          vhost: `https://${h5Id}.h5app.com`,
          extend_info: '{"launchParams":{}}',
          auto_install: 1,
          install_type: 1,
          amr_key: `${dir}/${h5Id}_${version}.amr`,
          json_key: `${dir}/${h5Id}_${version}.json`,
          md5: 'd41d8cd98f00b204e9800998ecf8427e',
          file_size: 200_000 + v,
          release_version: '20240101000000',
          created_at: now,
          modified_at: now,
        });
        const base = { ...scope, resource_id: resourceId, h5_id: h5Id, platform: 'all', release_version: '20240101000000', created_at: now, modified_at: now, seed: `${h5Id}${v}` };
        const official = { publish_type: 3, publish_mode: 4 };
        const wl = (ids: string) => ({ publish_type: 2, publish_mode: 1, whitelist_ids: ids, grey_config_info: RULES });
        const pct = (percent: number) => ({ publish_type: 2, publish_mode: 3, percent, grey_config_info: RULES });
        const window = { publish_type: 2, publish_mode: 2, grey_num: 50, grey_endtime: now + 30 * 24 * 3600_000, grey_config_info: RULES };
        const plan: Array<Record<string, unknown>> =
          v <= 7
            ? [{ ...official, task_status: 2 }, { ...wl(String(normalList)), task_status: 2 }, { ...pct(10), task_status: 2 }]
            : v === 8
              ? [{ ...official, task_status: 1 }, { ...wl(String(normalList)), task_status: 2 }, { ...pct(10), task_status: 3 }]
              : v === 9
                ? [{ ...wl(`${normalList},${regexList}`), task_status: 1 }, { ...pct(20), task_status: 1 }, { ...window, task_status: 1 }]
                : [{ ...wl(String(regexList)), task_status: 1 }, { ...pct(5), task_status: 1 }, { ...official, task_status: 0 }];
        for (const t of plan) {
          const id = await insertId(trx, 'nebula_tasks', { ...base, ...t, task_version: ++clock });
          tasks++;
          if (a === 0 && v === 8 && t.publish_type === 3) probeTaskId = id;
        }
      }
    }
    await bumpStamp(trx, db.dialect, boot.appId, boot.workspaceId);
  });
  await db.close();
  return { appId: boot.appId, workspaceId: boot.workspaceId, clientKey: boot.clientKey, probeTaskId, probeH5Id: h5IdOf(0), tasks, ms: Date.now() - t0 };
}
