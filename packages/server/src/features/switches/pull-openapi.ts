/**
 * OpenAPI path and schema of the device-facing switch pull (merged into
 * openapi/ next to the other device endpoints). Devices do not sign
 * requests: they present the workspace's public client key.
 */
import { deviceFieldProperties } from '../delivery/openapi.js';
import { SWITCH_PULL_PATH } from './switch-pull.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const fields = {
  ...deviceFieldProperties,
  client: { type: 'string', description: 'Installed client version (dotted numeric), for clientVersion rules; a device that sends none matches no clientVersion include rule.' },
  userId: { type: 'string', maxLength: 256, description: 'User id: whitelist values are decided on it; percentage values on it, else on deviceId.' },
  keys: { type: 'string', description: 'Comma-separated switch keys to answer (at most 200); absent: every enabled key.' },
};

const error = (description: string) => ({ description, content: { 'application/json': { schema: ref('DeviceError') } } });

export const switchPullOpenApiPaths = {
  [SWITCH_PULL_PATH]: {
    post: {
      tags: ['Device'],
      operationId: 'deviceSwitchPull',
      summary:
        'The switch values a device gets (guide §6): for every enabled key, the first of its values the device matches by platform, whitelist or percentage and advanced rules; a key none matches is left out (the client keeps its default). GET with a query string works too.',
      parameters: [
        { name: 'x-mcube-client-key', in: 'header', required: false, schema: { type: 'string' }, description: 'The workspace public client key (or the clientKey field).' },
      ],
      requestBody: {
        content: {
          'application/x-www-form-urlencoded': { schema: { type: 'object', properties: fields, required: ['platform'] } },
          'application/json': { schema: { type: 'object', properties: fields, required: ['platform'] } },
        },
      },
      responses: {
        '200': { description: 'The values, by key.', content: { 'application/json': { schema: ref('DeviceSwitchAnswer') } } },
        '400': error('Malformed request (platform other than android/ios, more than 200 keys ...).'),
        '401': error('Missing or unknown client key, or a key that does not belong to appId/workspaceId.'),
        '429': error('Rate limited (per device, per node, MCUBE_DEVICE_RATE_PER_MIN): resultCode 1002; Retry-After gives the seconds left.'),
      },
    },
  },
};

export const switchPullOpenApiSchemas = {
  DeviceSwitchAnswer: {
    type: 'object',
    properties: {
      resultCode: { type: 'integer', enum: [100] },
      data: { type: 'object', additionalProperties: { type: 'string' }, description: 'switch key -> value, keys in ascending order' },
    },
    required: ['resultCode', 'data'],
  },
};
