import { bumpStamp } from '../../db/stamps.js';
import { randomToken, safeEqual, type SecretBox } from '../../core/crypto.js';
import { openSecret, sealSecret } from '../../core/auth.js';
import type { Database } from '../../db/database.js';
import { ConfigError, ID_PATTERN } from '../../config.js';

export interface AccessKeyInfo {
  id: string;
  tenantId: string;
  status: string;
  description: string;
  expiresAt: number | null;
  createdAt: number;
}

export const newAccessKeyId = () => 'MCAK' + randomToken(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
export const newAccessKeySecret = () => randomToken(30);
export const newClientKey = () => 'mck_' + randomToken(32);

function checkId(kind: string, v: string) {
  if (!ID_PATTERN.test(v)) throw new Error(`${kind} must be 1-64 characters of A-Z a-z 0-9 _ -`);
}

/** For callers that must refuse a bad workspace id before they write anything else (admin "apps create"). */
export const checkWorkspaceId = (v: string) => checkId('workspace id', v);

/** The known text master_key_check seals (bound to its row by the associated data). */
export const MASTER_KEY_CHECK = { name: 'master_key_check', plain: 'mcube master key check v1', aad: 'settings:master_key_check' };
/** While a rotation is under way (the check opens only with an open-only key): the same text sealed with the key rotated to. */
export const MASTER_KEY_NEXT = { name: 'master_key_next', plain: 'mcube master key check v1', aad: 'settings:master_key_next' };

/**
 * Refuses to go on with a master key that does not open this database's
 * secrets. Without MCUBE_MASTER_KEY a node (or the admin command) generates a
 * key into its own data folder; a second node or an admin run elsewhere then
 * had another key, said it was ready and answered every signed call with a
 * 500. A stored AccessKey secret tells at once; the settings row
 * master_key_check, written by the first node (insert if missing, so nodes
 * starting together on an empty database agree on one), tells the others.
 * During a rotation the check opens only with an open-only key: the first
 * master key seen then is recorded (master_key_next), and any other is
 * refused, so a mistyped new key cannot seal secrets the other nodes cannot
 * open. `master-key reseal` seals the check last, once every other secret
 * is sealed again, and then clears master_key_next.
 */
export async function assertMasterKeyOpens(db: Database, box: SecretBox): Promise<void> {
  const refuse = () =>
    new ConfigError(
      'The master key does not open the secrets in this database: every node and the admin command must use the same MCUBE_MASTER_KEY (the one the database was set up with; without the variable it is read from <data>/master.key).',
    );
  const row = (await db.knex('access_keys').orderBy('created_at').first('id', 'secret_enc')) as { id: string; secret_enc: string } | undefined;
  if (row) {
    try {
      openSecret(box, row.id, row.secret_enc);
    } catch {
      throw refuse();
    }
  }
  const opens = async (setting: typeof MASTER_KEY_CHECK): Promise<{ current: boolean } | null> => {
    await db.knex('settings').insert({ name: setting.name, value: box.seal(setting.plain, setting.aad) }).onConflict('name').ignore();
    const stored = (await db.knex('settings').where({ name: setting.name }).first('value')) as { value: string };
    try {
      const o = box.openWith(stored.value, setting.aad);
      return o.plain.toString() === setting.plain ? { current: o.current } : null;
    } catch {
      return null;
    }
  };
  const check = await opens(MASTER_KEY_CHECK);
  if (!check) throw refuse();
  if (check.current) return;
  const next = await opens(MASTER_KEY_NEXT);
  if (!next?.current) {
    throw new ConfigError(
      'MCUBE_MASTER_KEY is not the key this database is being rotated to: other nodes already run with another new master key (see "rotating it" in docs/configuration.md); use theirs, or finish or undo that rotation with "master-key reseal" first.',
    );
  }
}

/** Tenants own apps; apps own workspaces; AccessKeys belong to a tenant. */
export class TenantStore {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly now: () => number = Date.now,
  ) {}

  async ensureTenant(id: string, name = id): Promise<void> {
    checkId('tenant id', id);
    await this.db.knex('tenants').insert({ id, name, status: 'active', created_at: this.now() }).onConflict('id').ignore();
  }

  async listTenants() {
    return this.db.knex('tenants').select('id', 'name', 'status', 'created_at').orderBy('id');
  }

  /** Creates an app (and its first workspace); refuses an app id another tenant owns. */
  async ensureApp(tenantId: string, appId: string, name = appId): Promise<void> {
    checkId('app id', appId);
    const existing = await this.db.knex('apps').where({ app_id: appId }).first('tenant_id');
    if (existing && existing.tenant_id !== tenantId) throw new Error(`app ${appId} belongs to another tenant`);
    if (!existing) await this.db.knex('apps').insert({ app_id: appId, tenant_id: tenantId, name, created_at: this.now() }).onConflict('app_id').ignore();
  }

  async listApps(tenantId?: string) {
    const q = this.db.knex('apps').select('app_id', 'tenant_id', 'name', 'created_at').orderBy('app_id');
    return tenantId ? q.where({ tenant_id: tenantId }) : q;
  }

  async ensureWorkspace(appId: string, workspaceId: string, clientKey?: string | null): Promise<string> {
    checkId('workspace id', workspaceId);
    const row = await this.db.knex('workspaces').where({ app_id: appId, workspace_id: workspaceId }).first('client_key');
    if (row) return row.client_key as string;
    const key = clientKey ?? newClientKey();
    await this.db.knex('workspaces').insert({ app_id: appId, workspace_id: workspaceId, client_key: key, created_at: this.now() });
    return key;
  }

  /**
   * A new device client key for a workspace; the current one keeps working for
   * `graceSec` more seconds (devices hold it in shipped apps), and a key it had
   * replaced before is dropped. The workspace's change stamp moves, so nodes look its keys up again.
   */
  async rotateClientKey(appId: string, workspaceId: string, graceSec: number): Promise<{ clientKey: string; previous: string; previousExpiresAt: number } | null> {
    return this.db.knex.transaction(async (trx) => {
      // locked: two rotations at once must not both keep the same key as "previous" (the first new key would be lost)
      const q = trx('workspaces').where({ app_id: appId, workspace_id: workspaceId }).first('client_key');
      const row = await (this.db.dialect === 'pg' ? q.forUpdate() : q);
      if (!row) return null;
      const clientKey = newClientKey();
      const previousExpiresAt = this.now() + graceSec * 1000;
      await trx('workspaces')
        .where({ app_id: appId, workspace_id: workspaceId })
        .update({ client_key: clientKey, previous_client_key: row.client_key, previous_key_expires_at: previousExpiresAt });
      // the nodes' client-key caches follow the workspace's change stamp (delivery/client-keys.ts)
      await bumpStamp(trx, this.db.dialect, appId, workspaceId);
      return { clientKey, previous: String(row.client_key), previousExpiresAt };
    });
  }

  async listWorkspaces(appId: string) {
    return this.db.knex('workspaces').where({ app_id: appId }).select('app_id', 'workspace_id', 'client_key', 'created_at').orderBy('workspace_id');
  }

  async createAccessKey(tenantId: string, opts: { id?: string; secret?: string; description?: string } = {}): Promise<{ id: string; secret: string }> {
    const id = opts.id ?? newAccessKeyId();
    const secret = opts.secret ?? newAccessKeySecret();
    checkId('AccessKey id', id);
    if (secret.length < 16) throw new Error('an AccessKey secret must have at least 16 characters');
    await this.db.knex('access_keys').insert({
      id,
      tenant_id: tenantId,
      secret_enc: sealSecret(this.box, id, secret),
      status: 'active',
      description: opts.description ?? '',
      expires_at: null,
      created_at: this.now(),
    });
    return { id, secret };
  }

  async getAccessKey(id: string): Promise<AccessKeyInfo | null> {
    const r = await this.db.knex('access_keys').where({ id }).first();
    return r ? toInfo(r) : null;
  }

  async listAccessKeys(tenantId?: string): Promise<AccessKeyInfo[]> {
    const q = this.db.knex('access_keys').select('*').orderBy('created_at');
    const rows = tenantId ? await q.where({ tenant_id: tenantId }) : await q;
    return rows.map(toInfo);
  }

  /** Whether `secret` is the stored (sealed) secret of key `id`. */
  async accessKeySecretIs(id: string, secret: string): Promise<boolean> {
    const row = await this.db.knex('access_keys').where({ id }).first('secret_enc');
    return !!row && safeEqual(openSecret(this.box, id, row.secret_enc), secret);
  }

  /** A disabled tenant's AccessKeys are all refused (InvalidAccessKeyId.Inactive) on every node within a second; its devices keep being served. */
  async setTenantStatus(id: string, status: 'active' | 'disabled'): Promise<boolean> {
    return (await this.db.knex('tenants').where({ id }).update({ status })) > 0;
  }

  async setKeyStatus(id: string, status: 'active' | 'disabled'): Promise<boolean> {
    return (await this.db.knex('access_keys').where({ id }).update({ status })) > 0;
  }

  /**
   * Issues a new key for the same tenant and lets the old one live for
   * `graceSec` more seconds, so callers switch over without downtime. An
   * expiry is only ever brought forward: rotating an expired key (or rotating
   * again with a longer grace) never brings the old key back.
   */
  async rotateAccessKey(id: string, graceSec: number): Promise<{ id: string; secret: string; oldExpiresAt: number }> {
    const old = await this.getAccessKey(id);
    if (!old) throw new Error(`no AccessKey ${id}`);
    const fresh = await this.createAccessKey(old.tenantId, { description: `rotated from ${id}` });
    const oldExpiresAt = Math.min(old.expiresAt ?? Infinity, this.now() + graceSec * 1000);
    await this.db.knex('access_keys').where({ id }).update({ expires_at: oldExpiresAt });
    return { ...fresh, oldExpiresAt };
  }
}

function toInfo(r: Record<string, any>): AccessKeyInfo {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    status: r.status,
    description: r.description,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    createdAt: Number(r.created_at),
  };
}
