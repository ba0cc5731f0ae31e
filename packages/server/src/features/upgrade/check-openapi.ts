/**
 * OpenAPI path and schema of the device-facing upgrade check (merged into
 * openapi/ next to the offline-package device endpoint). Devices do not sign
 * requests: they present the workspace's public client key.
 */
import { deviceFieldProperties } from '../delivery/openapi.js';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const fields = {
  ...deviceFieldProperties,
  client: { type: 'string', description: 'Installed client version (dotted numeric, required; a suffix after -, +, _ or ~, as in 5.2-beta, is ignored); only packages of a higher version are offered.' },
  userId: { type: 'string', maxLength: 256, description: 'User id: whitelist and time-window gray releases are decided on it.' },
  channel: {
    type: 'string',
    enum: ['appstore', 'enterprise'],
    description:
      'iOS only: how the installed build was distributed. appstore (the default) is offered App Store packages and TestFlight invitations (until the TestFlight build expires); enterprise is offered enterprise packages only.',
  },
};

const error = (description: string) => ({ description, content: { 'application/json': { schema: ref('DeviceError') } } });

export const upgradeCheckOpenApiPaths = {
  '/device/upgrade/check': {
    post: {
      tags: ['Device'],
      operationId: 'deviceUpgradeCheck',
      summary:
        'Which new client version a device should be told about (guide §4.3): the releasing upgrade tasks of its platform, ranked higher version > Official > Whitelist gray > Time-window gray > latest task, with whitelists, time-window admissions and advanced rules. GET with a query string works too.',
      parameters: [
        { name: 'x-mcube-client-key', in: 'header', required: false, schema: { type: 'string' }, description: 'The workspace public client key (or the clientKey field).' },
      ],
      requestBody: {
        content: {
          'application/x-www-form-urlencoded': { schema: { type: 'object', properties: fields, required: ['platform', 'client'] } },
          'application/json': { schema: { type: 'object', properties: fields, required: ['platform', 'client'] } },
        },
      },
      responses: {
        '200': { description: 'The upgrade to offer, or resultStatus 201 (no new version).', content: { 'application/json': { schema: ref('DeviceUpgradeAnswer') } } },
        '400': error('Malformed request (platform other than android/ios, client version missing or not dotted numeric ...).'),
        '401': error('Missing or unknown client key, or a key that does not belong to appId/workspaceId.'),
        '429': error('Rate limited (per device, per node, MCUBE_DEVICE_RATE_PER_MIN): resultCode 1002; Retry-After gives the seconds left.'),
      },
    },
  },
};

export const upgradeCheckOpenApiSchemas = {
  DeviceUpgradeAnswer: {
    type: 'object',
    properties: {
      resultCode: { type: 'integer', enum: [100] },
      resultStatus: { type: 'integer', enum: [201, 202, 204, 206], description: '201 no new version, 202 single reminder, 204 multiple reminders, 206 forced upgrade (the codes of the client SDK)' },
      upgradeType: { type: 'integer', enum: [201, 202, 204, 206], description: 'the same code, under the name of the iOS SDK\'s callback dictionary (guide §4.2.2)' },
      forceUpgrade: { type: 'boolean' },
      silentPeriodDays: { type: 'integer', description: 'single reminder (202): days the prompt stays silent after the user dismisses it (3, the guide\'s default; the client setting wins); 0 otherwise' },
      newestVersion: { type: 'string', description: 'version of the offered package' },
      guideMemo: { type: 'string', description: 'the upgrade prompt (UpgradeContent)' },
      message: { type: 'string', description: 'the upgrade prompt again, under the iOS SDK\'s key' },
      upgradeShortVersion: { type: 'string', description: 'version of the offered package (iOS SDK key)' },
      upgradeFullVersion: { type: 'string', description: 'version of the offered package (iOS SDK key; mcube keeps one version per package)' },
      needClientNetType: {
        type: 'string',
        description: 'network types the task\'s include rule names, as written (e.g. "4G,WIFI"; iOS SDK key); "" when it names none. The dictionary\'s userId is not echoed: the app knows it',
      },
      downloadURL: {
        type: 'string',
        description: 'signed address of the stored package (with needCheck: the page that asks for the verification code, then sends the file), the DownloadUrl given, or the App Store / TestFlight link',
      },
      packageType: { type: 'string', enum: ['apk', 'enterprise', 'appstore', 'testflight'] },
      platform: { type: 'string', enum: ['Android', 'iOS'] },
      md5: { type: 'string', description: 'md5 of the stored package ("" for links)' },
      fileSize: { type: 'integer' },
      needCheck: { type: 'boolean', description: 'download verification: downloadURL is the page that asks for the package\'s verification code' },
      packageId: { type: 'integer' },
      taskId: { type: 'integer' },
    },
    required: ['resultCode', 'resultStatus'],
  },
};
