import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { McubeClient, McubeUploadError, uploadFile } from '../../packages/sdk/src/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * A file over the size cap is refused as soon as the store sees it, while the
 * client is still sending. The client must get the refusal (EntityTooLarge),
 * not a broken pipe: a CI job takes a network error for something to retry.
 * The store used to close the connection with its answer; most uploads of a
 * few MB then ended in EPIPE (9 of the 40 below, every run).
 */
let srv: TestServer;
let client: McubeClient;
let dir: string;
beforeAll(async () => {
  srv = await startTestServer({ MCUBE_UPLOAD_MAX_BYTES: String(512 * 1024) });
  client = new McubeClient({ endpoint: srv.url, ...srv.creds, env: {}, throwOnBusinessError: true });
  dir = mkdtempSync(join(tmpdir(), 'mcube-early-'));
});
afterAll(async () => {
  await srv?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('an upload over the cap is answered EntityTooLarge, streamed from disk or from memory, whatever its size', async () => {
  const outcomes: string[] = [];
  for (const size of [1024 * 1024, 4 * 1024 * 1024, 20 * 1024 * 1024]) {
    const data = randomBytes(size);
    const path = join(dir, `f${size}.bin`);
    writeFileSync(path, data);
    for (const source of [path, data]) {
      for (let i = 0; i < 5; i++) {
        const token = (await client.getMcubeFileToken({ onexFlag: true })).getFileTokenResult.fileToken!;
        const err = await uploadFile(token, source, { filename: 'x.bin' }).then(() => null, (e: unknown) => e);
        outcomes.push(err instanceof McubeUploadError ? err.code : `${(err as Error)?.name} ${(err as { code?: string })?.code}`);
      }
    }
  }
  expect(outcomes.filter((o) => o !== 'EntityTooLarge')).toEqual([]);
  expect(outcomes).toHaveLength(30);
}, 120_000);
