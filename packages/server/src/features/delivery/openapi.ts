/**
 * OpenAPI paths and schemas of the device endpoint (merged into openapi/ by
 * scripts/gen-openapi.ts). Devices do not sign requests: they present the
 * workspace's public client key.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** The fields every device endpoint reads (device-io.ts, device-request.ts). */
export const deviceFieldProperties = {
  appId: { type: 'string', description: 'mPaaS app id (e.g. ALIPUB0000001). Optional: the client key names it; when given it must match.' },
  workspaceId: { type: 'string', description: 'Workspace id (e.g. default). Optional, like appId.' },
  clientKey: { type: 'string', description: 'The workspace public client key, when not sent in the x-mcube-client-key header.' },
  platform: { type: 'string', enum: ['android', 'ios'], description: 'Device platform (any letter case).' },
  client: { type: 'string', description: 'Host app (client) version, compared numerically with the package client-version range.' },
  system: { type: 'string', description: 'OS version, for osVersion rules.' },
  userId: { type: 'string', maxLength: 256, description: 'User id: whitelist, time-window and percentage gray releases are decided on it.' },
  user_id: { type: 'string', maxLength: 256, description: 'Read as userId when userId is absent (the name of the Alipay open-API twin of this request).' },
  deviceId: { type: 'string', maxLength: 256, description: 'Used as the user key when there is no userId.' },
  utdid: { type: 'string', maxLength: 256, description: 'Read as deviceId when deviceId is absent.' },
  diu: { type: 'string', maxLength: 256, description: 'Read as deviceId when deviceId and utdid are absent.' },
  city: { type: 'string', description: 'For city rules (compared case-insensitively).' },
  model: { type: 'string', description: 'Device model, for mobileModel rules (compared case-insensitively).' },
  netType: { type: 'string', description: 'Network type, for netType rules (compared case-insensitively).' },
};

const requestProperties = {
  ...deviceFieldProperties,
  query: {
    type: 'string',
    description:
      'JSON object: H5 app id -> {"app_id","version"} of the apps asked about; the key "nebula-*-all" asks for every H5 app. Absent: every H5 app. At most 1000 entries.',
    examples: ['{"70000000":{"app_id":"70000000","version":"1.0.0.1"}}', '{"nebula-*-all":{"app_id":"nebula-*-all","version":"0"}}'],
  },
  existed: { type: 'string', description: 'JSON object: H5 app id -> {"app_id","version"} of every installed app (the installed version wins over the one in query).' },
};

const parameters = [
  { name: 'x-mcube-client-key', in: 'header', required: false, schema: { type: 'string' }, description: 'The workspace public client key (or the clientKey field).' },
  ...Object.entries(requestProperties).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
];

const errors = {
  '400': { description: 'Malformed request (platform missing, query/existed not JSON ...).', content: { 'application/json': { schema: ref('DeviceError') } } },
  '401': { description: 'Missing or unknown client key, or a key that does not belong to appId/workspaceId.', content: { 'application/json': { schema: ref('DeviceError') } } },
  '429': {
    description:
      'Rate limited (per device, per node, MCUBE_DEVICE_RATE_PER_MIN): resultCode 1002, the code a Nebula RPC gateway uses for rate limiting (the stock HTTP provider reads no 4xx body and simply retries later). Retry-After gives the seconds left in the window.',
    headers: { 'Retry-After': { schema: { type: 'integer' } } },
    content: { 'application/json': { schema: ref('DeviceError') } },
  },
  '503': { description: 'Delivery data could not be loaded yet.', content: { 'application/json': { schema: ref('DeviceError') } } },
};

const description = [
  'Which offline packages this device should have, in the Nebula update-answer format (h5.json envelope). Read-only.',
  'Rules: docs DELIVERY-RULES.md. Only releasing tasks deliver; platform and client-version range must match; gray tasks by whitelist, time window (first GreyNum users; an admitted user keeps the package), percentage (stable hash buckets) and advanced rules (ANDed).',
  'Among matching tasks: a releasing rollback task first, then higher package version, then Official > Whitelist gray > Time-window/percentage gray, then the latest released task. One entry per H5 app; never a version equal to or older than the installed one, except from a rollback task, which then lists the installed newer version in discardData.',
  'removeAppIdList lists the installed H5 apps that were deleted here (DeleteMcubeNebulaApp) and have not been published again; a package is never removed merely because nothing new is offered.',
].join(' ');

export const deviceOpenApiPaths: Record<string, unknown> = {
  '/device/nebula/update': {
    get: {
      operationId: 'DeviceNebulaUpdate',
      summary: 'Update check of a device (query string)',
      description,
      tags: ['Device'],
      security: [],
      parameters,
      responses: { '200': { description: 'The update answer.', content: { 'application/json': { schema: ref('DeviceUpdateAnswer') } } }, ...errors },
    },
    post: {
      operationId: 'DeviceNebulaUpdatePost',
      summary: 'Update check of a device (form or JSON body, as the Nebula HTTP provider posts)',
      description,
      tags: ['Device'],
      security: [],
      parameters: [parameters[0]],
      requestBody: {
        required: false,
        content: {
          'application/x-www-form-urlencoded': { schema: ref('DeviceUpdateRequest') },
          'application/json': { schema: ref('DeviceUpdateRequest') },
        },
      },
      responses: { '200': { description: 'The update answer.', content: { 'application/json': { schema: ref('DeviceUpdateAnswer') } } }, ...errors },
    },
  },
};

export const deviceOpenApiSchemas: Record<string, unknown> = {
  DeviceUpdateRequest: {
    type: 'object',
    description: 'Update-check fields (Nebula AppReq plus user and device facts). In a JSON body query and existed may also be objects.',
    properties: requestProperties,
    required: ['platform'],
  },
  DeviceAppEntry: {
    type: 'object',
    description: 'One h5.json app object (offline-package-format.md §2.4).',
    properties: {
      app_desc: { type: 'string' },
      app_id: { type: 'string', description: '8-digit H5 app id' },
      auto_install: { type: 'integer', description: 'download timing: 0 Wi-Fi only, 1 any network, 2 only when used' },
      download_type: { type: 'integer', description: 'same value as auto_install (the Android parser reads this key)' },
      extend_info: { type: 'object', additionalProperties: true, description: 'may carry launchParams.asyncReqRate (seconds)' },
      fallback_base_url: { type: 'string' },
      global_pack_url: { type: 'string' },
      icon_url: { type: 'string' },
      installType: { type: 'integer', description: 'install timing: 0 on first use, 1 immediately' },
      main_url: { type: 'string' },
      md5: { type: 'string', description: 'MD5 (hex) of the .amr file' },
      name: { type: 'string' },
      online: { type: 'integer', enum: [1] },
      package_url: { type: 'string', description: 'download address of the .amr (presigned, or on the public/CDN base)' },
      patch: { type: 'string', enum: [''] },
      size: { type: 'integer', description: 'bytes of the .amr file' },
      sub_url: { type: 'string' },
      version: { type: 'string' },
      vhost: { type: 'string' },
    },
    required: ['app_id', 'version', 'package_url', 'md5', 'main_url', 'vhost', 'auto_install', 'download_type', 'installType', 'online', 'patch', 'extend_info'],
  },
  DeviceUpdateAnswer: {
    type: 'object',
    properties: {
      config: {
        type: 'object',
        additionalProperties: true,
        description: 'Client rate settings: always empty. A package paces its own app through extend_info.launchParams.asyncReqRate.',
      },
      data: { type: 'array', items: ref('DeviceAppEntry') },
      discardData: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, description: 'H5 app id -> installed versions a rollback replaces' },
      removeAppIdList: { type: 'array', items: { type: 'string' }, description: 'installed H5 apps deleted with DeleteMcubeNebulaApp (not published again since): the client removes them' },
      resultCode: { type: 'integer', enum: [100] },
      resultMsg: { type: 'string' },
      state: { type: 'string' },
    },
    required: ['config', 'data', 'discardData', 'removeAppIdList', 'resultCode'],
  },
  DeviceError: {
    type: 'object',
    properties: {
      resultCode: { type: 'integer', description: '1002 when rate limited; otherwise the HTTP status' },
      resultMsg: { type: 'string' },
      state: { type: 'string', enum: ['fail'] },
    },
    required: ['resultCode', 'resultMsg'],
  },
};
