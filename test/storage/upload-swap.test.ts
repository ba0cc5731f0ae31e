import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BlobInfo, BlobStore } from '../../packages/server/src/core/blob-store.js';
import { mcube, uploadFile, type Call } from '../helpers/nebula.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { fakeApp, md5 } from '../upgrade/upgrade-fixtures.js';

/**
 * An uploader may overwrite (or its upload may lose) its object after the
 * action checked it: the token allows writes to its key until it expires. The
 * copy an action makes must hold to the size limit whatever the object has
 * become, refuse with the business error, and record what was copied. The
 * race is made certain here: the store's head() answers what the object was,
 * then the object is replaced, at the moment the copy starts.
 */
function changeAtCopy(blobs: BlobStore, key: () => string, change: (key: string) => Promise<void>): () => void {
  const realHead = blobs.head.bind(blobs);
  let heads = 0;
  blobs.head = async (k: string): Promise<BlobInfo | null> => {
    const info = await realHead(k);
    // the first head is the action's check (resolveUploadedObject), the second the copy's own (downloadToFile)
    if (k === key() && ++heads === 2) await change(k);
    return info;
  };
  return () => {
    blobs.head = realHead;
  };
}

describe.each(['local', 's3'] as const)('an upload changed between its check and its copy (%s driver)', (driver) => {
  let s3: RunningS3rver | undefined;
  let srv: TestServer;
  let call: Call;
  beforeAll(async () => {
    if (driver === 's3') s3 = await startS3rver();
    srv = await startTestServer({ ...(s3?.env ?? {}), MCUBE_JANITOR_INTERVAL_SEC: '0' });
    call = mcube(srv);
  });
  afterAll(async () => {
    await srv?.close();
    await s3?.close();
  });

  const entries = async (id: string) => Number((await srv.node.deps.db.knex('whitelist_entries').where({ whitelist_id: Number(id) }).count({ n: '*' }))[0]!.n);
  const keyOf = (url: string) => srv.node.deps.blobs.keyFromUrl(url)!;

  it('a whitelist file grown past the import limit is refused with FileTooLarge, and nothing is imported', async () => {
    const id = (await call('CreateMcubeWhitelist', { WhiteListName: `swap-${driver}`, WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    const url = await uploadFile(call, 'ids.txt', Buffer.from('a\nb\nc\n'));
    const big = Buffer.from(Array.from({ length: 20_000 }, (_, i) => `user${i}`).join('\n'));
    const limits = srv.node.deps.config.whitelists;
    const saved = limits.importMaxBytes;
    limits.importMaxBytes = 200;
    const restore = changeAtCopy(srv.node.deps.blobs, () => keyOf(url), (k) => srv.node.deps.blobs.put(k, big));
    try {
      const r = await call('UpdateMcubeWhitelist', { Id: id, OssUrl: url });
      expect(r.ResultCode).toBe('FileTooLarge');
      expect(r.AddWhitelistResult).toMatchObject({ Success: false, ResultMsg: expect.stringContaining('200 bytes') });
    } finally {
      restore();
      limits.importMaxBytes = saved;
    }
    expect(await entries(id)).toBe(0);
  });

  it('an upload removed before its copy is refused with FileNotFound, not an internal error', async () => {
    const id = (await call('CreateMcubeWhitelist', { WhiteListName: `gone-${driver}`, WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    const url = await uploadFile(call, 'ids.txt', Buffer.from('a\nb\n'));
    const restore = changeAtCopy(srv.node.deps.blobs, () => keyOf(url), (k) => srv.node.deps.blobs.delete(k));
    try {
      const r = await call('UpdateMcubeWhitelist', { Id: id, OssUrl: url, KeyIds: 'inline' });
      expect(r.ResultCode).toBe('FileNotFound');
    } finally {
      restore();
    }
    expect(await entries(id)).toBe(0);
  });

  it('an upgrade package replaced by another valid file records the size and md5 of the file it copied', async () => {
    const first = await fakeApp(`first-${'x'.repeat(400)}`);
    const second = await fakeApp('second');
    expect(second.length).not.toBe(first.length);
    const url = await uploadFile(call, 'swap.apk', first);
    const restore = changeAtCopy(srv.node.deps.blobs, () => keyOf(url), (k) => srv.node.deps.blobs.put(k, second));
    let r: Record<string, any>;
    try {
      r = await call('CreateMcubeUpgradePackage', { Platform: 'android', AppVersion: `3.0.${driver === 'local' ? 1 : 2}`, FileUrl: url, Desc: 'swap', OnexFlag: true });
    } finally {
      restore();
    }
    expect(r.ResultCode).toBe('OK');
    const p = (await call('GetMcubeUpgradePackageInfo', { PackageId: Number(r.ResultContent.Data) })).GetPackageResult.PackageInfo.UpgradeBaseInfoDO;
    expect(p).toMatchObject({ Md5: md5(second), ClientFileSize: second.length });
  });
});
