import { afterAll, beforeAll } from 'vitest';
import { startTestServer, type TestServer } from './server.js';
import { openapiCore } from './vendor-clients.js';

/**
 * A test server for the calling file (started before its tests, closed after
 * them) and @alicloud/openapi-core signed with the server's key; read them
 * inside tests, once beforeAll has run.
 */
export function useTestServer(overrides: Record<string, string> = {}): { srv: TestServer; call: ReturnType<typeof openapiCore> } {
  const suite = {} as { srv: TestServer; call: ReturnType<typeof openapiCore> };
  beforeAll(async () => {
    suite.srv = await startTestServer(overrides);
    suite.call = openapiCore(suite.srv.host, suite.srv.creds);
  });
  afterAll(async () => {
    await suite.srv?.close();
  });
  return suite;
}
