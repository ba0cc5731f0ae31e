import type { Knex } from 'knex';

export const DELIVERY_CHANNEL = 'mcube_delivery';
/**
 * NOTIFY payload separator between app id and workspace id. PostgreSQL text
 * cannot hold NUL (22021), and ids never contain "/".
 */
export const DELIVERY_PAYLOAD_SEPARATOR = '/';

/**
 * Moves the delivery change stamp of one app/workspace. Call it inside the
 * transaction that changes anything devices receive (resources, tasks,
 * whitelists); after commit also call deps.onDeliveryChange(appId, workspaceId).
 * On PostgreSQL the NOTIFY is delivered at commit, so every node hears it.
 */
export async function bumpStamp(trx: Knex | Knex.Transaction, dialect: 'sqlite' | 'pg', appId: string, workspaceId: string): Promise<void> {
  await trx('change_stamps')
    .insert({ app_id: appId, workspace_id: workspaceId, stamp: 1 })
    .onConflict(['app_id', 'workspace_id'])
    .merge({ stamp: trx.raw('?? + 1', ['change_stamps.stamp']) });
  if (dialect === 'pg') await trx.raw('select pg_notify(?, ?)', [DELIVERY_CHANNEL, `${appId}${DELIVERY_PAYLOAD_SEPARATOR}${workspaceId}`]);
}
