import { deviceOpenApiPaths, deviceOpenApiSchemas } from './features/delivery/openapi.js';
import { switchPullOpenApiPaths, switchPullOpenApiSchemas } from './features/switches/pull-openapi.js';
import { upgradeCheckOpenApiPaths, upgradeCheckOpenApiSchemas } from './features/upgrade/check-openapi.js';
import type { ActionRegistry } from './core/registry.js';

const popError = {
  type: 'object',
  description: 'POP error body of a protocol failure (HTTP 4xx/5xx).',
  properties: {
    RequestId: { type: 'string' },
    HostId: { type: 'string' },
    Code: { type: 'string' },
    Message: { type: 'string' },
    Recommend: { type: 'string' },
  },
  required: ['RequestId', 'Code', 'Message'],
};

/** The OpenAPI document: a pure function of the action registry (plus the device endpoint). */
export function buildOpenApi(registry: ActionRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = { PopError: popError };
  const tags = new Set<string>();
  for (const def of registry.all()) {
    tags.add(def.tag);
    schemas[`${def.name}Request`] = {
      type: 'object',
      description: `Form fields of ${def.name} (wire names; every value travels as a form string).`,
      properties: def.input,
      ...(def.required.length ? { required: def.required } : {}),
    };
    schemas[`${def.name}Response`] = {
      type: 'object',
      properties: {
        RequestId: { type: 'string' },
        ResultCode: { type: 'string', description: 'OK on success; a business error code otherwise' },
        ResultMessage: { type: 'string' },
        [def.resultKey]: def.result,
      },
      required: ['RequestId', 'ResultCode', def.resultKey],
    };
    paths[`/?Action=${def.name}`] = {
      post: {
        operationId: def.name,
        summary: def.summary,
        tags: [def.tag],
        'x-mcube-result-key': def.resultKey,
        'x-mcube-mutates': def.mutates,
        ...(def.errors?.length ? { 'x-mcube-business-errors': def.errors } : {}),
        security: [{ acs3: [] }, { hmacSha1: [] }],
        requestBody: {
          required: true,
          content: { 'application/x-www-form-urlencoded': { schema: { $ref: `#/components/schemas/${def.name}Request` } } },
        },
        responses: {
          '200': {
            description: 'Success, or a business failure (ResultCode other than OK, Success false).',
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${def.name}Response` } } },
          },
          '4XX': { description: 'Protocol failure', content: { 'application/json': { schema: { $ref: '#/components/schemas/PopError' } } } },
          '5XX': { description: 'Server failure', content: { 'application/json': { schema: { $ref: '#/components/schemas/PopError' } } } },
        },
      },
    };
  }
  Object.assign(paths, deviceOpenApiPaths, upgradeCheckOpenApiPaths, switchPullOpenApiPaths);
  Object.assign(schemas, deviceOpenApiSchemas, upgradeCheckOpenApiSchemas, switchPullOpenApiSchemas);
  return {
    openapi: '3.1.0',
    info: {
      title: 'mcube: mPaaS Mcube OpenAPI (Mobile Delivery Service)',
      version: '2020-10-28',
      description:
        'RPC-style API: every action is POST / with form fields, the action named by x-acs-action (ACS3-HMAC-SHA256) or Action (HMAC-SHA1 signature 1.0). Paths here are written /?Action=<Name> so each action has its own operation.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    tags: [...tags].sort().map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        acs3: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<list>,Signature=<hex> (see README, "Signing a call by hand").' },
        hmacSha1: { type: 'apiKey', in: 'query', name: 'Signature', description: 'HMAC-SHA1 signature version 1.0 over all parameters, key = secret + "&".' },
      },
    },
  };
}
