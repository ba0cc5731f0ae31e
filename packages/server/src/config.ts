import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { zoneOffsetMinutes } from './core/ids.js';

/**
 * The only module that reads environment variables. Every variable is documented
 * in docs/configuration.md; keep the two in step.
 */
export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  /** publicUrl was made from MCUBE_PORT (MCUBE_PUBLIC_URL unset): with port 0 it gets the port the listener picked */
  publicUrlFromPort: boolean;
  /** minutes east of UTC of the zone-less wire times (MCUBE_WIRE_TIME_ZONE) */
  wireTimeZoneMinutes: number;
  dataDir: string;
  databaseUrl: string | null;
  dbSchema: string | null;
  /** PostgreSQL: run the hot raw statements as named prepared statements (off behind PgBouncer < 1.21 in transaction mode) */
  dbPreparedStatements: boolean;
  /** PostgreSQL: send statement_timeout when connecting (off behind a pooler that refuses startup parameters) */
  dbStatementTimeouts: boolean;
  /** PostgreSQL connections per node: knex's pool (actions, snapshots) and the pool of the per-request statements */
  dbPoolMax: number;
  dbHotPoolMax: number;
  masterKey: Buffer;
  /** MCUBE_MASTER_KEY_OPEN_ONLY: keys that still open secrets and check links made with them, but seal nothing (a key rotation) */
  masterKeysOpenOnly: Buffer[];
  bootstrap: {
    tenantId: string;
    appId: string;
    workspaceId: string;
    accessKeyId: string | null;
    accessKeySecret: string | null;
    clientKey: string | null;
  };
  auth: {
    timestampSkewSec: number;
    rateLimitPerSec: number;
  };
  http: {
    maxBodyBytes: number;
    bodyTimeoutMs: number;
    shutdownGraceMs: number;
    /** on SIGTERM, how long to keep serving (with /readyz failing) before closing the listener */
    shutdownDelayMs: number;
    /** proxies in front of the node whose X-Forwarded-For entries are trusted (device limits by address) */
    trustProxyHops: number;
  };
  storage: {
    driver: 'local' | 's3';
    bucket: string;
    s3Endpoint: string | null;
    s3Region: string;
    s3AccessKeyId: string | null;
    s3SecretAccessKey: string | null;
    s3ForcePathStyle: boolean;
    /** no byte from S3 for this long fails the call (503); a connection gets at most 5 s of it */
    s3TimeoutMs: number;
    downloadBaseUrl: string | null;
    downloadUrlTtlSec: number;
    uploadMaxBytes: number;
    uploadTokenTtlSec: number;
  };
  packages: {
    maxEntries: number;
    maxTotalBytes: number;
    maxRatio: number;
    workDir: string;
    /** publish each normal package's files unpacked for fallback_base_url (needs a download base URL) */
    fallback: boolean;
  };
  delivery: {
    pollIntervalMs: number;
    deviceRatePerMin: number;
    deviceRatePerAddressPerMin: number;
  };
  metrics: {
    /** GET /metrics served at all */
    enabled: boolean;
    /** when set, /metrics wants `Authorization: Bearer <token>` */
    token: string | null;
  };
  whitelists: {
    /** ids (or expressions) one UpdateMcubeWhitelist / CreateMcubeWhitelistForIde call may add */
    importMaxIds: number;
    /** largest uploaded whitelist file (OssUrl) */
    importMaxBytes: number;
  };
  janitor: {
    intervalSec: number;
    graceSec: number;
    uploadRetentionSec: number;
    /** audit rows older than this many days are deleted by the janitor; 0 keeps them for ever */
    auditRetentionDays: number;
  };
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

type Env = Record<string, string | undefined>;

/** A setting that cannot be used: the message names the variable (main prints it as one line). */
export class ConfigError extends Error {}

function int(env: Env, name: string, def: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!/^\s*[+-]?\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${raw}"`);
  }
  return n;
}

/** An absolute http(s) URL without credentials, query or fragment (links are built on it), without its trailing slashes. */
function httpUrl(env: Env, name: string): string | null {
  const raw = str(env, name);
  if (raw === null) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL such as https://cdn.example.com/mcube, got "${raw}"`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.search || u.hash) {
    throw new ConfigError(`${name} must be an absolute http(s) URL without credentials, query or fragment, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function wireZone(env: Env): number {
  const raw = str(env, 'MCUBE_WIRE_TIME_ZONE') ?? 'UTC';
  const m = zoneOffsetMinutes(raw);
  if (m === null) throw new ConfigError(`MCUBE_WIRE_TIME_ZONE must be UTC or an offset such as +08:00, got "${raw}"`);
  return m;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (/^(1|true|yes|on)$/i.test(raw.trim())) return true;
  if (/^(0|false|no|off)$/i.test(raw.trim())) return false;
  // a typo must not turn a feature off (or on) without a word
  throw new ConfigError(`${name} must be on or off (also 1/0, true/false, yes/no), got "${raw}"`);
}

function str(env: Env, name: string): string | null {
  const v = env[name];
  return v === undefined || v === '' ? null : v;
}

/** Reads the master key from MCUBE_MASTER_KEY or from <dataDir>/master.key, creating it on first start (unless `create` is false). */
function loadMasterKey(env: Env, dataDir: string, create = true, onGenerated?: (file: string) => void): Buffer {
  const given = str(env, 'MCUBE_MASTER_KEY');
  if (given) {
    const key = Buffer.from(given, 'base64');
    if (key.length !== 32) throw new ConfigError('MCUBE_MASTER_KEY must be 32 bytes, base64-encoded');
    return key;
  }
  const file = join(dataDir, 'master.key');
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new ConfigError(`${file} does not hold a 32-byte base64 key`);
    return key;
  }
  if (!create) {
    throw new ConfigError(`no master key: set MCUBE_MASTER_KEY as the nodes have it, or MCUBE_DATA_DIR to the data folder that holds their master.key (not found in ${dataDir})`);
  }
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  onGenerated?.(file);
  return key;
}

/** Tenant, app, workspace and AccessKey ids (tenant-store.ts checks the same). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** Tenant, app, workspace and AccessKey ids: what the stores take (tenant-store.ts), refused here in one line rather than by a stack trace after the start. */
function bootstrapId(env: Env, name: string): string | null {
  const v = str(env, name);
  if (v !== null && !ID_PATTERN.test(v)) throw new ConfigError(`${name} must be 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(v.slice(0, 80))}`);
  return v;
}

function bootstrapSecret(env: Env): string | null {
  const v = str(env, 'MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET');
  // the value is a secret: its length is said, never the value
  if (v !== null && v.length < 16) throw new ConfigError(`MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET must have at least 16 characters, got ${v.length}`);
  return v;
}

function bootstrapClientKey(env: Env): string | null {
  const v = str(env, 'MCUBE_BOOTSTRAP_CLIENT_KEY');
  if (v !== null && !/^[\x21-\x7e]{1,64}$/.test(v)) throw new ConfigError('MCUBE_BOOTSTRAP_CLIENT_KEY must be 1-64 visible ASCII characters (no spaces)');
  return v;
}

/** MCUBE_MASTER_KEY_OPEN_ONLY: comma-separated base64 keys, each 32 bytes. */
function openOnlyKeys(env: Env): Buffer[] {
  const raw = str(env, 'MCUBE_MASTER_KEY_OPEN_ONLY');
  if (raw === null) return [];
  return raw
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part, i) => {
      const key = Buffer.from(part, 'base64');
      if (key.length !== 32) throw new ConfigError(`MCUBE_MASTER_KEY_OPEN_ONLY: key ${i + 1} must be 32 bytes, base64-encoded`);
      return key;
    });
}

/**
 * `create: false` (the admin command): the data folder and the master key must
 * exist already, as a node made them; a mistyped MCUBE_DATA_DIR is not a new setup.
 */
/** MCUBE_HOST: an IPv4 or IPv6 address (brackets allowed) or a host name; anything else stops the start in one line. */
function listenHost(raw: string): string {
  const bare = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIP(bare)) return bare;
  if (bare.length <= 253 && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(bare) && !/^[\d.]+$/.test(bare)) return bare;
  throw new ConfigError(`MCUBE_HOST "${raw}" is not an address to listen on: give an IP address (0.0.0.0 for all, :: for all IPv6) or a host name`);
}

/** A host as it is written in a URL: an IPv6 address in brackets. */
export const urlHost = (host: string) => (isIP(host) === 6 ? `[${host}]` : host);

export function loadConfig(env: Env = process.env, opts: { create?: boolean; onGeneratedKey?: (file: string) => void } = {}): Config {
  const create = opts.create ?? true;
  const dataDir = resolve(env.MCUBE_DATA_DIR || './data');
  // the database, the master key and the stored files: for this user only (an existing folder keeps its mode)
  if (create) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const port = int(env, 'MCUBE_PORT', 8080, 0, 65535);
  const host = listenHost(env.MCUBE_HOST?.trim() || '127.0.0.1');
  // one without the other used to be ignored with a warning: on a new database a key was then generated and its
  // secret printed, where a CI setup expected its own
  if (!str(env, 'MCUBE_BOOTSTRAP_ACCESS_KEY_ID') !== !str(env, 'MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET')) {
    throw new ConfigError('MCUBE_BOOTSTRAP_ACCESS_KEY_ID and MCUBE_BOOTSTRAP_ACCESS_KEY_SECRET go together: give both, or neither to have a key generated');
  }
  const publicUrl = httpUrl(env, 'MCUBE_PUBLIC_URL') ?? `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : urlHost(host)}:${port}`;
  const databaseUrl = str(env, 'DATABASE_URL');
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//i.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/db); leave it unset for the embedded SQLite database`);
  }
  const driver = (env.MCUBE_STORAGE || 'local') as 'local' | 's3';
  if (driver !== 'local' && driver !== 's3') throw new ConfigError('MCUBE_STORAGE must be "local" or "s3"');
  const logLevel = (env.MCUBE_LOG_LEVEL || 'info') as Config['logLevel'];
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) throw new ConfigError(`MCUBE_LOG_LEVEL must be debug, info, warn, error or silent, got "${logLevel}"`);
  const uploadTokenTtlSec = int(env, 'MCUBE_UPLOAD_TOKEN_TTL', 3600, 1);
  const dbSchema = str(env, 'MCUBE_DB_SCHEMA');
  // it also goes into a connection option (search_path), where only a plain identifier is safe
  if (dbSchema !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(dbSchema)) throw new ConfigError('MCUBE_DB_SCHEMA must be a plain identifier (letters, digits, _)');
  if (uploadTokenTtlSec > 3600) throw new ConfigError('MCUBE_UPLOAD_TOKEN_TTL is at most 3600 seconds');
  return {
    host,
    port,
    publicUrl,
    publicUrlFromPort: str(env, 'MCUBE_PUBLIC_URL') === null,
    wireTimeZoneMinutes: wireZone(env),
    dataDir,
    databaseUrl,
    dbSchema,
    dbPreparedStatements: bool(env, 'MCUBE_DB_PREPARED_STATEMENTS', true),
    dbStatementTimeouts: bool(env, 'MCUBE_DB_STATEMENT_TIMEOUTS', true),
    dbPoolMax: int(env, 'MCUBE_DB_POOL_MAX', 10, 1),
    dbHotPoolMax: int(env, 'MCUBE_DB_HOT_POOL_MAX', 4, 1),
    masterKey: loadMasterKey(env, dataDir, create, opts.onGeneratedKey),
    masterKeysOpenOnly: openOnlyKeys(env),
    bootstrap: {
      tenantId: bootstrapId(env, 'MCUBE_BOOTSTRAP_TENANT_ID') ?? 'TENANT01',
      appId: bootstrapId(env, 'MCUBE_BOOTSTRAP_APP_ID') ?? 'ALIPUB0000001',
      workspaceId: bootstrapId(env, 'MCUBE_BOOTSTRAP_WORKSPACE_ID') ?? 'default',
      accessKeyId: bootstrapId(env, 'MCUBE_BOOTSTRAP_ACCESS_KEY_ID'),
      accessKeySecret: bootstrapSecret(env),
      clientKey: bootstrapClientKey(env),
    },
    auth: {
      timestampSkewSec: int(env, 'MCUBE_TIMESTAMP_SKEW', 900, 1),
      rateLimitPerSec: int(env, 'MCUBE_RATE_LIMIT', 200, 0),
    },
    http: {
      maxBodyBytes: int(env, 'MCUBE_MAX_BODY_BYTES', 1024 * 1024, 1024),
      bodyTimeoutMs: int(env, 'MCUBE_BODY_TIMEOUT_MS', 15000, 100),
      shutdownGraceMs: int(env, 'MCUBE_SHUTDOWN_GRACE_MS', 10000, 0),
      shutdownDelayMs: int(env, 'MCUBE_SHUTDOWN_DELAY_MS', 0, 0),
      trustProxyHops: int(env, 'MCUBE_TRUST_PROXY_HOPS', 0, 0),
    },
    storage: {
      driver,
      bucket: env.MCUBE_S3_BUCKET || 'mcube',
      s3Endpoint: str(env, 'MCUBE_S3_ENDPOINT'),
      s3Region: env.MCUBE_S3_REGION || 'us-east-1',
      s3AccessKeyId: str(env, 'MCUBE_S3_ACCESS_KEY_ID'),
      s3SecretAccessKey: str(env, 'MCUBE_S3_SECRET_ACCESS_KEY'),
      s3ForcePathStyle: bool(env, 'MCUBE_S3_FORCE_PATH_STYLE', true),
      s3TimeoutMs: int(env, 'MCUBE_S3_TIMEOUT_MS', 15000, 100),
      downloadBaseUrl: httpUrl(env, 'MCUBE_DOWNLOAD_BASE_URL'),
      // S3 signs GET links for at most 7 days
      downloadUrlTtlSec: int(env, 'MCUBE_DOWNLOAD_URL_TTL', 7 * 24 * 3600, 60, 7 * 24 * 3600),
      uploadMaxBytes: int(env, 'MCUBE_UPLOAD_MAX_BYTES', 300 * 1024 * 1024, 1),
      uploadTokenTtlSec,
    },
    packages: {
      maxEntries: int(env, 'MCUBE_ZIP_MAX_ENTRIES', 20000, 1),
      maxTotalBytes: int(env, 'MCUBE_ZIP_MAX_TOTAL_BYTES', 1024 * 1024 * 1024, 1),
      maxRatio: int(env, 'MCUBE_ZIP_MAX_RATIO', 200, 1),
      workDir: resolve(env.MCUBE_WORK_DIR || join(dataDir, 'work')),
      fallback: bool(env, 'MCUBE_PACKAGE_FALLBACK', true),
    },
    delivery: {
      pollIntervalMs: int(env, 'MCUBE_STAMP_POLL_MS', 250, 10),
      deviceRatePerMin: int(env, 'MCUBE_DEVICE_RATE_PER_MIN', 120, 0),
      deviceRatePerAddressPerMin: int(env, 'MCUBE_DEVICE_RATE_PER_ADDRESS_PER_MIN', 0, 0),
    },
    metrics: {
      enabled: bool(env, 'MCUBE_METRICS', true),
      token: str(env, 'MCUBE_METRICS_TOKEN'),
    },
    whitelists: {
      importMaxIds: int(env, 'MCUBE_WHITELIST_IMPORT_MAX_IDS', 1_000_000, 1),
      importMaxBytes: int(env, 'MCUBE_WHITELIST_IMPORT_MAX_BYTES', 64 * 1024 * 1024, 1),
    },
    janitor: {
      intervalSec: int(env, 'MCUBE_JANITOR_INTERVAL_SEC', 300, 0),
      graceSec: int(env, 'MCUBE_JANITOR_GRACE_SEC', 3600, 0),
      uploadRetentionSec: int(env, 'MCUBE_UPLOAD_RETENTION_SEC', 86400, 60),
      auditRetentionDays: int(env, 'MCUBE_AUDIT_RETENTION_DAYS', 0, 0),
    },
    logLevel,
  };
}
