import { afterAll, beforeAll, expect, it } from 'vitest';
import { bump, insertResource, insertTask } from '../helpers/delivery-fixtures.js';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Presigned download addresses are signed again once half their lifetime has passed, without any change. */
let srv: TestServer;
let offset = 0;
const signed: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_DOWNLOAD_URL_TTL: '60', MCUBE_STAMP_POLL_MS: '50', MCUBE_DEVICE_RATE_PER_MIN: '0' }, { now: () => Date.now() + offset });
  const blobs = srv.node.deps.blobs;
  const sign = blobs.downloadUrl.bind(blobs);
  blobs.downloadUrl = async (key) => {
    signed.push(key);
    return sign(key);
  };
});
afterAll(async () => {
  await srv?.close();
});

it('re-signs the package address after half of MCUBE_DOWNLOAD_URL_TTL', async () => {
  // start 1 s into a signing window (half of the 60 s TTL): windows follow the clock, and a rebuild that
  // crossed a window's end would rightly sign again
  offset += 30_000 - ((Date.now() + offset) % 30_000) + 1000;
  const r = await insertResource(srv.node.deps.db.knex, { h5_id: '88880001', h5_version: '1.0' });
  await insertTask(srv.node.deps.db.knex, r);
  await bump(srv.node.deps.db);
  const ask = async () =>
    (await deviceCheck(srv.url, { platform: 'ios', client: '2.0', userId: 'u', query: queryOf({ '88880001': '' }) }, { clientKey: srv.creds.clientKey })).body.data[0];
  expect((await ask()).package_url).toBeTruthy();
  const before = signed.filter((k) => k === r.amr_key).length;
  expect(before).toBe(1);
  // a rebuild for an unrelated reason keeps the address (still young)
  await bump(srv.node.deps.db);
  srv.node.deps.onDeliveryChange(srv.creds.appId, srv.creds.workspaceId);
  await ask();
  expect(signed.filter((k) => k === r.amr_key).length).toBe(1);
  offset += 31_000;
  const end = Date.now() + 5000;
  while (signed.filter((k) => k === r.amr_key).length === 1 && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  expect(signed.filter((k) => k === r.amr_key).length).toBe(2);
  expect((await ask()).package_url).toBeTruthy();
});

it('hands out one address per signing window (the same on every node and after a restart), and the last one stays valid into the next window', async () => {
  const { LocalBlobStore } = await import('../../packages/server/src/features/storage/local-store.js');
  // two nodes of one deployment (same master key), on this test's clock
  const blobs = new LocalBlobStore(srv.node.deps.config, () => Date.now() + offset);
  const other = new LocalBlobStore(srv.node.deps.config, () => Date.now() + offset);
  const key = 'pkg/ALIPUB0000001/default/88880002/1.0_all/nebula/88880002_1.0.amr';
  const w = 30_000; // half of MCUBE_DOWNLOAD_URL_TTL (60 s)
  // move to 1 s into a window
  offset += w - ((Date.now() + offset) % w) + 1000;
  const first = await blobs.downloadUrl(key);
  offset += 20_000;
  expect(await blobs.downloadUrl(key)).toBe(first);
  expect(await other.downloadUrl(key)).toBe(first);
  offset += 15_000;
  const next = await blobs.downloadUrl(key);
  expect(next).not.toBe(first);
  const q = new URL(first).searchParams;
  expect(blobs.verifyDownload(key, q.get('X-Mcube-Expires'), q.get('X-Mcube-Signature'))).toBe(true);

  // S3: two nodes sign the same address (fixed signing time per window), where the per-second X-Amz-Date made every one differ
  const { S3BlobStore } = await import('../../packages/server/src/features/storage/index.js');
  const { loadConfig } = await import('../../packages/server/src/config.js');
  const { createLogger } = await import('../../packages/server/src/core/logger.js');
  const { makeTestEnv } = await import('../helpers/server.js');
  const e = makeTestEnv({ MCUBE_STORAGE: 's3', MCUBE_S3_REGION: 'eu-west-1', MCUBE_S3_BUCKET: 'media', MCUBE_S3_ACCESS_KEY_ID: 'x', MCUBE_S3_SECRET_ACCESS_KEY: 'y' });
  const nodes = [new S3BlobStore(loadConfig(e.env), createLogger('silent')), new S3BlobStore(loadConfig(e.env), createLogger('silent'))];
  try {
    const a = await nodes[0]!.downloadUrl(key);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await nodes[1]!.downloadUrl(key)).toBe(a);
    expect(new URL(a).searchParams.get('X-Amz-Expires')).toBe('604800');
  } finally {
    for (const n of nodes) await n.close?.();
    await e.cleanup();
  }
});
