import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
// s3rver ships no type declarations
const S3rver = createRequire(import.meta.url)('s3rver') as new (opts: Record<string, unknown>) => S3rverInstance;

export interface RunningS3rver {
  /** endpoint URL, e.g. http://127.0.0.1:40123 */
  endpoint: string;
  bucket: string;
  directory: string;
  /** environment overrides for startTestServer: the s3 driver against this s3rver */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * s3rver in-process on a random loopback port, storing in a fresh temp folder.
 * It checks neither signatures nor POST policies: use it for the s3 happy path only.
 */
export async function startS3rver(bucket = 'mcube-test'): Promise<RunningS3rver> {
  const directory = mkdtempSync(join(tmpdir(), 'mcube-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    directory,
    env: {
      MCUBE_STORAGE: 's3',
      MCUBE_S3_ENDPOINT: endpoint,
      MCUBE_S3_REGION: 'us-east-1',
      MCUBE_S3_BUCKET: bucket,
      MCUBE_S3_ACCESS_KEY_ID: 'S3RVER',
      MCUBE_S3_SECRET_ACCESS_KEY: 'S3RVER',
      MCUBE_S3_FORCE_PATH_STYLE: 'true',
    },
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
