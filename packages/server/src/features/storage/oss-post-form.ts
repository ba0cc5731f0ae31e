import { PostFormError } from './post-policy.js';

/**
 * The vendor's OSS browser-upload form (PostObject: OSSAccessKeyId, policy,
 * Signature, key, ..., file last), as scripts written for the vendor's cloud
 * build it from a FileToken's documented fields alone. The local driver takes
 * it only as another spelling of the SigV4 form the token stands for: the
 * signer (algorithm, credential, date) is read from the policy's own `eq`
 * conditions, and the form is then checked exactly like a SigV4 form, so the
 * signature must verify with our secret for that credential, the policy must
 * be unexpired and every condition must hold. OSS's own signature (base64
 * HMAC-SHA1) is never computed: Signature is the hex SigV4 value we issued.
 */

/** Form fields (lower-cased) that only a SigV4 form carries. */
const SIGV4_FIELDS = ['x-amz-signature', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date'];
const SIGNER_FIELDS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date'] as const;

/** True for an OSS-style form: OSSAccessKeyId or Signature, and none of the SigV4 signing fields. */
export function isOssPostForm(fields: Map<string, string>): boolean {
  return !SIGV4_FIELDS.some((n) => fields.has(n)) && (fields.has('ossaccesskeyid') || fields.has('signature'));
}

const noSigner = () =>
  new PostFormError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. The policy names no SigV4 signer of ours.');

/**
 * The SigV4 form an OSS-style form stands for: OSSAccessKeyId and Signature
 * dropped, X-Amz-Signature = Signature, and X-Amz-Algorithm/Credential/Date
 * taken from the policy itself. Throws PostFormError for a missing field, an
 * access id that is not ours, or a policy that states no signer.
 */
export function ossFormAsSigV4(fields: Map<string, string>, accessId: string): Map<string, string> {
  for (const [name, label] of [['ossaccesskeyid', 'OSSAccessKeyId'], ['policy', 'policy'], ['signature', 'Signature']] as const) {
    if (!fields.get(name)) throw new PostFormError(400, 'InvalidArgument', `Bucket POST must contain a field named '${label}'.`);
  }
  if (fields.get('ossaccesskeyid') !== accessId) {
    throw new PostFormError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.');
  }
  const signer = signerOf(fields.get('policy')!);
  if (!signer) throw noSigner();
  const out = new Map(fields);
  out.delete('ossaccesskeyid');
  out.delete('signature');
  for (const name of SIGNER_FIELDS) out.set(name, signer[name]);
  out.set('x-amz-signature', fields.get('signature')!);
  return out;
}

/**
 * The x-amz-algorithm/credential/date values a (not yet verified) policy pins
 * with `eq`, each exactly once; null when any is missing, repeated or the
 * policy does not decode. Only strings are read: the signature check that
 * follows decides whether the policy is ours.
 */
function signerOf(b64: string): Record<(typeof SIGNER_FIELDS)[number], string> | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch {
    return null;
  }
  const conditions = (doc as { conditions?: unknown })?.conditions;
  if (!Array.isArray(conditions)) return null;
  const found = new Map<string, string[]>();
  const note = (name: string, value: unknown) => {
    const n = name.toLowerCase();
    if ((SIGNER_FIELDS as readonly string[]).includes(n) && typeof value === 'string') found.set(n, [...(found.get(n) ?? []), value]);
  };
  for (const cond of conditions) {
    if (Array.isArray(cond)) {
      if (cond.length === 3 && cond[0] === 'eq' && typeof cond[1] === 'string' && cond[1].startsWith('$')) note(cond[1].slice(1), cond[2]);
    } else if (cond && typeof cond === 'object') {
      const entries = Object.entries(cond);
      if (entries.length === 1) note(entries[0]![0], entries[0]![1]);
    }
  }
  const values = SIGNER_FIELDS.map((n) => found.get(n));
  if (values.some((v) => v?.length !== 1)) return null;
  return { 'x-amz-algorithm': values[0]![0]!, 'x-amz-credential': values[1]![0]!, 'x-amz-date': values[2]![0]! };
}
