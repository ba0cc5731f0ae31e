import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { createTask, publishFixture, setTaskStatus, utcIn } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * What a node keeps per device (its user id in the rate limiter and among a
 * time-window task's admitted users, a client key it looked up) must not keep
 * that device's request alive. V8 cuts a string of 13 or more characters out
 * of the body by reference: each of these once held its whole body, up to the
 * body limit, for as long as the entry lived (found by a soak audit).
 */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

let srv: TestServer;
let h5Id: string;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_DEVICE_RATE_PER_MIN: '1000' });
  const pub = await publishFixture(srv, { h5Id: '31415926' });
  h5Id = pub.h5Id;
  const task = await createTask(pub.call, pub.resourceId, { PublishType: 2, PublishMode: 2, GreyEndtimeData: utcIn(3600_000), GreyNum: 1_000_000 });
  await setTaskStatus(pub.call, task, 1, pub.resourceId);
}, 60_000);
afterAll(async () => {
  await srv?.close();
});

describe('device requests leave nothing of their bodies behind', () => {
  it('hundreds of 60 KB requests from distinct users and unknown client keys hold a few MB, not their bodies', async () => {
    const padding = 'p'.repeat(60 * 1024);
    const users = 300;
    const ask = (i: number, clientKey: string, keyIn: 'header' | 'field') =>
      deviceCheck(srv.url, { platform: 'android', client: '1.0.0', userId: `user-${i}-${randomBytes(8).toString('hex')}`, query: queryOf({ [h5Id]: '' }), pad: padding + i }, { clientKey, keyIn });
    // one round first: code, caches and pools warm up outside the measurement
    expect((await ask(-1, srv.creds.clientKey, 'header')).status).toBe(200);
    const before = heapMb();
    for (let i = 0; i < users; i++) {
      const r = await ask(i, srv.creds.clientKey, 'header');
      expect(r.status).toBe(200);
      // admitted to the time-window task: the user's key is now in the rate limiter and among the admitted
      expect(r.body.data?.length).toBe(1);
      const unknown = await ask(i, `mck_unknown_${i}_${randomBytes(8).toString('hex')}`, 'field');
      expect(unknown.status).toBe(401);
    }
    const grown = heapMb() - before;
    // 600 bodies of 60 KB are 35 MB; what the node keeps of them (keys, map entries) is well under 1 KB each
    expect(grown).toBeLessThan(8);
  }, 120_000);
});
