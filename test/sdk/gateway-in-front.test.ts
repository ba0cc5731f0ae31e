import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { McubeClient, McubeClientError } from '../../packages/sdk/src/index.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The client behind what operators put in front of the server: a reverse proxy that
 * serves it under a path prefix and strips it (nginx "location /mcube/ { proxy_pass
 * http://up/; }"), and a gateway that refuses with the vendor's XML error body. ACS3
 * used to sign the prefixed path (SignatureDoesNotMatch, while v2 worked), and an XML
 * error lost its Code and RequestId ("Http403").
 */
let srv: TestServer;
let gateway: Gateway;
let proxyUrl: string;

beforeAll(async () => {
  srv = await startTestServer();
  const refuse = (req: IncomingMessage, res: ServerResponse) => {
    if (!req.url?.startsWith('/refuse/')) return false;
    req.resume();
    res
      .writeHead(403, { 'content-type': 'text/xml;charset=utf-8' })
      .end('<?xml version="1.0" encoding="UTF-8"?><Error><RequestId>R-XML</RequestId><HostId>gw</HostId><Code>Forbidden.RAM</Code><Message>denied &amp; logged</Message></Error>');
    return true;
  };
  gateway = await startGateway(srv.port, refuse, (path) => path.replace(/^\/mcube\//, '/'));
  proxyUrl = gateway.url;
});
afterAll(async () => {
  await gateway?.close();
  await srv?.close();
});

const clientAt = (endpoint: string, signatureAlgorithm: 'ACS3-HMAC-SHA256' | 'v2') =>
  new McubeClient({ endpoint, ...srv.creds, env: {}, signatureAlgorithm, retry: false });

describe('a gateway in front of the server', () => {
  for (const alg of ['ACS3-HMAC-SHA256', 'v2'] as const) {
    it(`${alg}: an endpoint under a path prefix that the proxy strips`, async () => {
      const c = clientAt(`${proxyUrl}/mcube`, alg);
      expect((await c.createMcubeVhost({ vhost: `prefix-${alg === 'v2' ? 'v2' : 'acs3'}.example.com` })).resultCode).toBe('OK');
      expect((await c.queryMcubeVhost({})).queryVhostResult.data).toBe(`prefix-${alg === 'v2' ? 'v2' : 'acs3'}.example.com`);
    });
  }

  it('an XML error body keeps its Code, Message and RequestId', async () => {
    const err = await clientAt(`${proxyUrl}/refuse`, 'ACS3-HMAC-SHA256')
      .queryMcubeVhost({})
      .catch((e) => e);
    expect(err).toBeInstanceOf(McubeClientError);
    expect(err).toMatchObject({ code: 'Forbidden.RAM', requestId: 'R-XML', statusCode: 403 });
    expect(err.message).toContain('denied & logged');
  });
});
