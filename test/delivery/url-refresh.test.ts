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
