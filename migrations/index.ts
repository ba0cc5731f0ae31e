import type { Knex } from 'knex';
import * as m001 from './001_initial.js';
import * as m002 from './002_upgrade.js';
import * as m003 from './003_client_key_rotation.js';
import * as m004 from './004_task_released_at.js';
import * as m005 from './005_scale_indexes.js';
import * as m006 from './006_whitelist_changes.js';
import * as m007 from './007_list_indexes.js';
import * as m008 from './008_removed_h5_apps.js';
import * as m009 from './009_blob_owner.js';
import * as m010 from './010_fallback_copies.js';
import * as m011 from './011_mini_programs.js';
import * as m012 from './012_kind_list_index.js';
import * as m013 from './013_switch_configs.js';
import * as m014 from './014_global_pack_url.js';
import * as m015 from './015_settings.js';

/** Ordered migrations; an explicit list so they load the same under tsx, vitest and bundlers. */
export const migrations: Record<string, { up(k: Knex): Promise<void>; down(k: Knex): Promise<void>; config?: { transaction?: boolean } }> = {
  '001_initial': m001,
  '002_upgrade': m002,
  '003_client_key_rotation': m003,
  '004_task_released_at': m004,
  '005_scale_indexes': m005,
  '006_whitelist_changes': m006,
  '007_list_indexes': m007,
  '008_removed_h5_apps': m008,
  '009_blob_owner': m009,
  '010_fallback_copies': m010,
  '011_mini_programs': m011,
  '012_kind_list_index': m012,
  '013_switch_configs': m013,
  '014_global_pack_url': m014,
  '015_settings': m015,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
