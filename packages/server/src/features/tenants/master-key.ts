import type { Knex } from 'knex';
import type { SecretBox } from '../../core/crypto.js';
import { MASTER_KEY_CHECK, MASTER_KEY_NEXT } from './tenant-store.js';

/**
 * Every value sealed with the master key: AccessKey secrets, the apps' RSA
 * signing keys and the master key check, each bound (AES-GCM associated data)
 * to the row it belongs to.
 */
const SEALED = [
  { what: 'accessKeys', table: 'access_keys', column: 'secret_enc', pk: ['id'], aad: (r: Row) => `ak:${r.id}`, name: (r: Row) => String(r.id) },
  {
    what: 'rsaKeys',
    table: 'rsa_keys',
    column: 'private_key_enc',
    pk: ['app_id', 'workspace_id'],
    aad: (r: Row) => `rsa:${r.app_id}:${r.workspace_id}`,
    name: (r: Row) => `${r.app_id}/${r.workspace_id}`,
  },
  // the cluster's master key check (tenant-store.ts assertMasterKeyOpens), last: a node with the new key alone
  // starts only once the check is sealed with it, so only once every secret above is
  { what: 'masterKeyCheck', table: 'settings', column: 'value', pk: ['name'], aad: (r: Row) => `settings:${r.name}`, name: (r: Row) => String(r.name), only: { name: MASTER_KEY_CHECK.name } },
] as const;

type Row = Record<string, string>;
type Kind = (typeof SEALED)[number]['what'];

export interface SealCount {
  /** sealed with the master key */
  current: number;
  /** sealed with an open-only key (before `reseal`) or sealed again now (after) */
  older: number;
  /** opened by none of the keys: the key that sealed them is not configured */
  unreadable: string[];
}

export type SealReport = Record<Kind, SealCount> & {
  /** reseal: every secret is sealed with the master key now, the check included (false: some were left as they were) */
  complete: boolean;
};

/**
 * Counts (and with `reseal`, seals again with the master key) every sealed
 * value. A row is rewritten only if it still holds what was read, so a key
 * uploaded or rotated by a running node meanwhile is never overwritten with
 * the older value; such a row is read again.
 */
export async function sealedValues(knex: Knex, box: SecretBox, opts: { reseal: boolean }): Promise<SealReport> {
  const report = {} as Record<Kind, SealCount>;
  let complete = true;
  for (const s of SEALED) {
    const count: SealCount = { current: 0, older: 0, unreadable: [] };
    report[s.what] = count;
    // a secret no key opens stays as it was; the check then stays too, so nodes keep the key that opens it
    const reseal = opts.reseal && (s.what !== 'masterKeyCheck' || complete);
    const rows = (await knex(s.table).where('only' in s ? s.only : {}).select(...s.pk, s.column)) as Row[];
    for (let row of rows) {
      for (let attempt = 0; ; attempt++) {
        let opened: { plain: Buffer; current: boolean };
        try {
          opened = box.openWith(row[s.column]!, s.aad(row));
        } catch {
          count.unreadable.push(s.name(row));
          break;
        }
        if (opened.current) {
          count.current++;
          break;
        }
        if (!reseal) {
          // status counts it; a reseal that left others behind leaves the check as it is, uncounted
          if (!opts.reseal) count.older++;
          break;
        }
        const where = Object.fromEntries(s.pk.map((k) => [k, row[k]]));
        const changed = await knex(s.table)
          .where({ ...where, [s.column]: row[s.column] })
          .update({ [s.column]: box.seal(opened.plain, s.aad(row)) });
        if (changed === 1) {
          count.older++;
          break;
        }
        // changed or deleted since it was read: look at what is there now
        const now = (await knex(s.table).where(where).first(...s.pk, s.column)) as Row | undefined;
        if (!now) break;
        if (attempt >= 5) {
          complete = false;
          break;
        }
        row = now;
      }
    }
    if (count.unreadable.length) complete = false;
  }
  // the rotation is over: the next key check goes, so a later rotation can record its own
  if (opts.reseal && complete) await knex('settings').where({ name: MASTER_KEY_NEXT.name }).delete();
  return { ...report, complete: complete && (opts.reseal || Object.values(report).every((c) => c.older === 0)) };
}
