import type { Knex } from 'knex';
import { createIndex, dropIndex, type IndexSpec } from './concurrent-index.js';

// The package lists (ListMcubeNebulaResources without H5Id, ListMcubeUpgradePackages) page a workspace's rows
// newest first (ORDER BY id DESC). No index served that order, so every page sorted all the workspace's rows:
// 212-428 ms of one synchronous SQLite statement for 100k packages (the node answered nothing meanwhile),
// 50-90 ms for 20k. With (app_id, workspace_id, id) the first page costs 0.5 ms and the last 7.5 ms.
export const config = { transaction: false };

const INDEXES: IndexSpec[] = [
  ['nebula_resources', ['app_id', 'workspace_id', 'id']],
  ['upgrade_packages', ['app_id', 'workspace_id', 'id']],
];

export async function up(knex: Knex): Promise<void> {
  for (const ix of INDEXES) await createIndex(knex, ix);
}

export async function down(knex: Knex): Promise<void> {
  for (const ix of [...INDEXES].reverse()) await dropIndex(knex, ix);
}
