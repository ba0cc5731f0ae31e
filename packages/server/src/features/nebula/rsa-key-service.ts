import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ActionContext } from '../../core/registry.js';
import { parseRsaPrivateKey } from '../packages/index.js';
import { copyUploadedObject, resolveUploadedObject } from '../storage/index.js';
import { getRsaKeyRow, upsertRsaKey } from './nebula-store.js';
import { asBusiness } from './package-errors.js';
import { withWorkDir } from './work-dir.js';
import { dropUntracked } from '../../db/blob-registry.js';

/** A PEM private key file is a few KiB; anything larger is not a key. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

const aad = (ctx: ActionContext) => `rsa:${ctx.appId}:${ctx.workspaceId}`;

export async function hasRsaKey(ctx: ActionContext): Promise<boolean> {
  return (await getRsaKeyRow(ctx.deps.db.knex, ctx)) !== null;
}

/**
 * Reads the uploaded PEM, checks it is an RSA private key, and stores it
 * sealed (AES-GCM, bound to app and workspace) with its public half. The
 * uploaded object is removed afterwards, and also when it is refused but holds
 * PEM private-key material (an encrypted or cut-off key, an EC key), so no
 * private key stays in the bucket; any other refused file (a zip given by
 * mistake) is left as it was: a refused call changes nothing.
 */
export async function uploadRsaKey(ctx: ActionContext, fileUrl: string): Promise<{ bits: number }> {
  const { deps } = ctx;
  const upload = await resolveUploadedObject(deps, ctx, fileUrl, { maxBytes: MAX_KEY_FILE_BYTES });
  const { key } = upload;
  const pem = await withWorkDir(deps, 'rsa-', async (dir) => {
    const path = join(dir, 'key.pem');
    await copyUploadedObject(deps, upload, path, { maxBytes: MAX_KEY_FILE_BYTES, fileUrl });
    return readFile(path, 'utf8');
  });
  try {
    const parsed = await asBusiness('FileUrl does not hold a usable RSA private key', () => parseRsaPrivateKey(pem));
    const normalised = parsed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await upsertRsaKey(
      deps.db.knex,
      ctx,
      { privateKeyEnc: deps.box.seal(normalised, aad(ctx)), publicKeyPem: parsed.publicKeyPem, bits: parsed.bits },
      deps.now(),
    );
    await removeKeyFile(ctx, key);
    return { bits: parsed.bits };
  } catch (err) {
    if (PRIVATE_KEY_PEM.test(pem)) await removeKeyFile(ctx, key);
    throw err;
  }
}

const PRIVATE_KEY_PEM = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * The uploaded file holds the private key in the clear: removed now, or, when the storage refuses, handed to the
 * janitor (a 'deleted' row, removed at its next run) rather than left for the upload retention (a day by default).
 */
async function removeKeyFile(ctx: ActionContext, key: string): Promise<void> {
  try {
    await ctx.deps.blobs.delete(key);
  } catch (e) {
    ctx.deps.log.warn('could not remove the uploaded key file; the janitor removes it', { requestId: ctx.requestId, error: (e as Error).message });
    await dropUntracked(ctx.deps.db.knex, key, ctx.appId, ctx.workspaceId, ctx.deps.now()).catch((err: Error) => ctx.deps.log.error('could not hand the uploaded key file to the janitor', { requestId: ctx.requestId, key, error: err.message }));
  }
}

/** The app's signing key, or null when none was uploaded (packages are then built unsigned). */
export async function loadPrivateKey(ctx: ActionContext): Promise<{ privateKey: KeyObject; publicKeyPem: string } | null> {
  const row = await getRsaKeyRow(ctx.deps.db.knex, ctx);
  if (!row) return null;
  return { privateKey: createPrivateKey(ctx.deps.box.open(row.privateKeyEnc, aad(ctx)).toString('utf8')), publicKeyPem: row.publicKeyPem };
}
