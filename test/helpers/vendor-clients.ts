import OpenApi, { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import RPCClient from '@alicloud/pop-core';

export interface Creds {
  accessKeyId: string;
  accessKeySecret: string;
}

/** The official TypeScript runtime, exactly as the generated mpaas-20201028 client drives it. */
export function openapiCore(host: string, creds: Creds, signatureAlgorithm?: 'v2', timeouts: { readTimeout?: number; connectTimeout?: number } = {}) {
  const client = new (OpenApi as any)(
    new $OpenApiUtil.Config({ ...creds, endpoint: host, protocol: 'HTTP', ...(signatureAlgorithm ? { signatureAlgorithm } : {}), ...timeouts }),
  );
  return async (action: string, body: Record<string, unknown>): Promise<{ statusCode: number; body: any; headers: Record<string, string> }> => {
    const params = new $OpenApiUtil.Params({
      action,
      version: '2020-10-28',
      protocol: 'HTTPS',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    });
    const req = new $OpenApiUtil.OpenApiRequest({ body });
    return client.callApi(params, req, new $dara.RuntimeOptions({}));
  };
}

/** The generic pop-core RPC client, GET by default or POST. */
export function popCore(url: string, creds: Creds, method: 'GET' | 'POST' = 'GET') {
  const client = new (RPCClient as any)({ ...creds, endpoint: url, apiVersion: '2020-10-28' });
  return (action: string, params: Record<string, unknown>): Promise<any> => client.request(action, params, { method, timeout: 30000 });
}
