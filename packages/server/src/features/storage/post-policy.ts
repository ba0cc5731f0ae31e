import { createHmac } from 'node:crypto';
import { safeEqual } from '../../core/crypto.js';

/**
 * SigV4 browser POST policies (the AWS S3 "POST Object" form), signed and checked
 * by the local driver exactly as S3 would, so one client flow serves both drivers.
 */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

function signingKey(secret: string, shortDate: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac('AWS4' + secret, shortDate), region), 's3'), 'aws4_request');
}

export function signPolicy(secret: string, shortDate: string, region: string, policyB64: string): string {
  return hmac(signingKey(secret, shortDate, region), policyB64).toString('hex');
}

const amzDate = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export interface PolicyRequest {
  bucket: string;
  dir: string;
  maxBytes: number;
  /** epoch ms */
  now: number;
  expiresInSec: number;
  accessId: string;
  secret: string;
  region: string;
}

export interface SignedPolicy {
  policy: string;
  signature: string;
  /** form fields in posting order, key first (S3 wants it before the file) */
  fields: Record<string, string>;
  /** epoch seconds */
  expire: number;
}

/** Conditions both drivers put in a policy besides the ones naming the signer. */
/**
 * The policy conditions both drivers sign. A form field no condition covers is
 * refused by real S3 ("Extra input fields"), so Content-Type, which OSS-style
 * forms may carry, is allowed here for the s3 driver as for the local one.
 */
export function uploadConditions(maxBytes: number): Array<['content-length-range', number, number] | ['starts-with', string, string]> {
  return [['content-length-range', 1, maxBytes], ['starts-with', '$success_action_status', ''], ['starts-with', '$Content-Type', '']];
}

export function signPostPolicy(r: PolicyRequest): SignedPolicy {
  const date = amzDate(r.now);
  const credential = `${r.accessId}/${date.slice(0, 8)}/${r.region}/s3/aws4_request`;
  const expireMs = r.now + r.expiresInSec * 1000;
  const conditions = [
    { bucket: r.bucket },
    ['starts-with', '$key', r.dir],
    // the local driver ignores Content-Type (objects are served by extension)
    ...uploadConditions(r.maxBytes),
    { 'x-amz-algorithm': SIGV4_ALGORITHM },
    { 'x-amz-credential': credential },
    { 'x-amz-date': date },
  ];
  const policy = Buffer.from(JSON.stringify({ expiration: isoSeconds(expireMs), conditions })).toString('base64');
  const signature = signPolicy(r.secret, date.slice(0, 8), r.region, policy);
  return {
    policy,
    signature,
    expire: Math.floor(expireMs / 1000),
    fields: {
      key: `${r.dir}\${filename}`,
      bucket: r.bucket,
      'X-Amz-Algorithm': SIGV4_ALGORITHM,
      'X-Amz-Credential': credential,
      'X-Amz-Date': date,
      Policy: policy,
      'X-Amz-Signature': signature,
    },
  };
}

/** An S3-style refusal of a POST form. */
export class PostFormError extends Error {
  constructor(
    readonly status: 400 | 403,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PolicyCheck {
  bucket: string;
  accessId: string;
  secret: string;
  /** secrets of open-only master keys: a form signed before a key rotation still verifies */
  olderSecrets?: string[];
  region: string;
  /** epoch ms */
  now: number;
  /** hard cap regardless of what the policy says */
  maxBytes: number;
}

export interface AcceptedForm {
  /** the final key, ${filename} substituted */
  key: string;
  minBytes: number;
  maxBytes: number;
  successStatus: 200 | 201 | 204;
}

const denied = (why: string) => new PostFormError(403, 'AccessDenied', `Invalid according to Policy: ${why}`);
const badPolicy = (why: string) => new PostFormError(400, 'InvalidPolicyDocument', `Invalid Policy: ${why}`);
const EXEMPT = (name: string) => name === 'policy' || name === 'x-amz-signature' || name === 'file' || name.startsWith('x-ignore-');

/**
 * Checks the fields sent before the file part (names lower-cased) against their
 * signed policy. Throws PostFormError; returns what the file must satisfy.
 */
export function checkPostForm(fields: Map<string, string>, filename: string, c: PolicyCheck): AcceptedForm {
  const rawKey = fields.get('key');
  if (rawKey === undefined) {
    throw new PostFormError(400, 'InvalidArgument', "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
  }
  for (const name of ['policy', 'x-amz-signature', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date']) {
    if (!fields.get(name)) throw new PostFormError(400, 'InvalidArgument', `Bucket POST must contain a field named '${name}'.`);
  }
  if (fields.get('x-amz-algorithm') !== SIGV4_ALGORITHM) throw new PostFormError(400, 'InvalidArgument', `x-amz-algorithm must be ${SIGV4_ALGORITHM}.`);
  const [id, shortDate, region, service, term, ...rest] = fields.get('x-amz-credential')!.split('/');
  if (rest.length || service !== 's3' || term !== 'aws4_request' || !/^\d{8}$/.test(shortDate ?? '') || region !== c.region) {
    throw new PostFormError(400, 'AuthorizationQueryParametersError', 'X-Amz-Credential is malformed or names another region.');
  }
  if (id !== c.accessId) throw new PostFormError(403, 'InvalidAccessKeyId', 'The access key Id you provided does not exist in our records.');
  const policyB64 = fields.get('policy')!;
  const given = fields.get('x-amz-signature')!.toLowerCase();
  if (![c.secret, ...(c.olderSecrets ?? [])].some((secret) => safeEqual(signPolicy(secret, shortDate!, region, policyB64), given))) {
    throw new PostFormError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }

  const policy = parsePolicy(policyB64);
  const expiration = Date.parse(policy.expiration);
  if (!Number.isFinite(expiration)) throw badPolicy('expiration is not a date');
  if (expiration <= c.now) throw denied('Policy expired.');

  const key = rawKey.split('${filename}').join(filename);
  const seen = new Set<string>();
  let range: [number, number] | null = null;
  let keyCovered = false;
  for (const cond of policy.conditions) {
    const [op, name, value] = normalise(cond);
    if (op === 'content-length-range') {
      range = [Number(name), Number(value)];
      continue;
    }
    seen.add(name);
    if (name === 'key') keyCovered = true;
    const actual = name === 'bucket' ? (fields.get('bucket') ?? c.bucket) : name === 'key' ? key : fields.get(name);
    if (name === 'bucket' && value !== c.bucket) throw denied(`Policy Condition failed: ["eq", "$bucket", ${JSON.stringify(value)}]`);
    const ok =
      op === 'eq'
        ? actual === value
        : (actual ?? '').startsWith(value) && (name !== 'key' || rawKey.startsWith(value));
    if (!ok) throw denied(`Policy Condition failed: ["${op}", "$${name}", ${JSON.stringify(value)}]`);
  }
  if (!keyCovered || !range) throw badPolicy('the policy must constrain $key and content-length-range');
  for (const name of fields.keys()) {
    if (!EXEMPT(name) && !seen.has(name)) throw denied(`Extra input fields: ${name}`);
  }
  const st = fields.get('success_action_status');
  return {
    key,
    minBytes: Math.max(0, range[0]),
    maxBytes: Math.min(range[1], c.maxBytes),
    successStatus: st === '200' ? 200 : st === '201' ? 201 : 204,
  };
}

function parsePolicy(b64: string): { expiration: string; conditions: unknown[] } {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw badPolicy('not base64');
  let doc: any;
  try {
    doc = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    throw badPolicy('not JSON');
  }
  if (!doc || typeof doc.expiration !== 'string' || !Array.isArray(doc.conditions)) throw badPolicy('expiration and conditions are required');
  return doc;
}

/** [op, fieldName (lower-case, no "$"), value] or ['content-length-range', min, max]. */
function normalise(cond: unknown): [string, string, string] {
  if (Array.isArray(cond) && cond.length === 3) {
    const [op, a, b] = cond as [unknown, unknown, unknown];
    if (op === 'content-length-range' && Number.isInteger(a) && Number.isInteger(b)) return [op, String(a), String(b)];
    if ((op === 'eq' || op === 'starts-with') && typeof a === 'string' && a.startsWith('$') && typeof b === 'string') {
      return [op, a.slice(1).toLowerCase(), b];
    }
  } else if (cond && typeof cond === 'object') {
    const entries = Object.entries(cond);
    if (entries.length === 1 && typeof entries[0]![1] === 'string') return ['eq', entries[0]![0].toLowerCase(), entries[0]![1] as string];
  }
  throw badPolicy(`unsupported condition ${JSON.stringify(cond)}`);
}
