import type { OptionSpec } from './args.js';

export const GLOBAL_OPTIONS: OptionSpec[] = [
  { name: 'endpoint', value: '<url>', help: 'server URL, or host:port for https (env MCUBE_ENDPOINT)' },
  { name: 'app-id', value: '<id>', help: 'mPaaS app id (env MPAAS_APP_ID)' },
  { name: 'workspace-id', value: '<id>', help: 'workspace id (env MPAAS_WORKSPACE_ID)' },
  { name: 'tenant-id', value: '<id>', help: 'tenant id (env MPAAS_TENANT_ID)' },
  { name: 'signature', value: '<acs3|v2>', help: 'ACS3-HMAC-SHA256 (default) or HMAC-SHA1 signature 1.0' },
  { name: 'timeout', value: '<seconds>', help: 'per request (default 30)' },
  { name: 'retries', value: '<n>', help: 'retries on network errors, 5xx and throttling (default 2)' },
  { name: 'json', help: 'machine-readable JSON on stdout, nothing else' },
  { name: 'help', short: 'h', help: 'show help' },
];
