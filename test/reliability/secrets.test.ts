import { createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBox, safeEqual } from '../../packages/server/src/core/crypto.js';
import { makeH5Zip, rsaKeyPair } from '../helpers/nebula.js';
import { ADMIN_MAIN, ROOT, onFreePort, runCommand, startServerProcess, type ServerProcess } from '../helpers/process.js';
import { makeTestEnv, TEST_CREDS, testDb, type TestEnv } from '../helpers/server.js';
import { uploadWithToken } from '../helpers/upload.js';
import { listKeys, openSharedState, tableNames, type SharedState } from './lib/db-state.js';
import { SuiteFigures } from './lib/figures.js';
import { sleep } from './lib/run-pool.js';
import { sendRequest, signAcs3, signV1, type Signer } from '../helpers/signing.js';

/**
 * Secrets: AccessKey secrets and the RSA private key are encrypted at rest
 * (the raw rows, the SQLite file and the blob store hold neither); a full flow
 * logs no secret, key material, signature or Authorization value, in the
 * process output nor in the audit log; signatures are compared in constant
 * time; keys rotate and are disabled without downtime.
 */
const fig = new SuiteFigures('secrets', {
  inputsTried: 'signed calls of the flow, forged calls, and calls of the rotation and disable streams',
  crashes: '5xx answers and error-level log lines',
  hangs: 'calls without an answer within 30 s',
  forgedOrForeignAccepted: 'calls accepted with a wrong secret, with a rotated key after its grace, or with a disabled key past the key cache time',
  overAdmissions: 'n/a: no time-window task is involved',
  orphansLeft: 'uploaded private-key files left in the blob store or the work folder',
  bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
});
for (const c of ['secretsInLogs', 'secretsInAudit', 'secretsAtRest', 'plainComparisons', 'failuresDuringGrace']) fig.check(c);

let env: TestEnv;
let proc: ServerProcess;
let state: SharedState;
const sent: string[] = []; // every signature and Authorization value sent
let keyPem = '';
let cliKey = { accessKeyId: '', accessKeySecret: '' };
const admin = (...args: string[]) => runCommand(process.execPath, [ADMIN_MAIN, ...args, '--json'], env.env);

interface Answer {
  status: number;
  json: any;
}

async function rpc(who: { accessKeyId: string; accessKeySecret: string }, action: string, params: Record<string, unknown>, style: 'acs3' | 'v1' = 'acs3'): Promise<Answer> {
  const p: Record<string, string> = { AppId: TEST_CREDS.appId, WorkspaceId: TEST_CREDS.workspaceId };
  for (const [k, v] of Object.entries(params)) p[k] = String(v);
  const signer: Signer = { host: proc.host, accessKeyId: who.accessKeyId, secret: who.accessKeySecret };
  const req = style === 'acs3' ? signAcs3(signer, action, p) : signV1(signer, action, p, 'GET');
  sent.push(req.signature, ...req.headers.filter(([k]) => k === 'authorization').map(([, v]) => v));
  fig.add('inputsTried');
  const r = await sendRequest(proc.host, req, 30_000);
  if (r.timedOut) fig.add('hangs');
  if (r.status >= 500) fig.add('crashes');
  return { status: r.status, json: r.json };
}

async function upload(who: typeof cliKey, name: string, data: Buffer): Promise<string> {
  const t = await rpc(who, 'GetMcubeFileToken', { OnexFlag: true });
  expect(t.json.ResultCode).toBe('OK');
  sent.push(t.json.GetFileTokenResult.FileToken.Signature, t.json.GetFileTokenResult.FileToken.Policy);
  return uploadWithToken(t.json.GetFileTokenResult.FileToken, name, data);
}

beforeAll(async () => {
  proc = await onFreePort(async (port) => {
    env = makeTestEnv({ MCUBE_PORT: String(port), MCUBE_PUBLIC_URL: `http://127.0.0.1:${port}`, MCUBE_LOG_LEVEL: 'debug', MCUBE_JANITOR_INTERVAL_SEC: '0' });
    return startServerProcess(env.env).catch(async (err) => {
      await env.cleanup();
      throw err;
    });
  });
  state = await openSharedState(env.env);
}, 60_000);

afterAll(async () => {
  fig.write();
  await proc?.stop('SIGKILL');
  await state?.close();
  await env?.cleanup();
});

/** PEM body lines of a key, in every encoding the server might hold it (as uploaded, and as PKCS#8). */
function keyMaterial(pem: string): string[] {
  const pkcs8 = createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }).toString();
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  const lines = [...pem.split('\n'), ...pkcs8.split('\n')].filter((l) => l.length >= 40 && !l.startsWith('-----'));
  return [...new Set([...lines, der.subarray(40, 80).toString('hex'), 'PRIVATE KEY-----'])];
}

const secretsOf = () => [TEST_CREDS.accessKeySecret, cliKey.accessKeySecret, env.env.MCUBE_MASTER_KEY!].filter(Boolean);

describe('a full flow leaves no secret in logs, audit rows or storage', () => {
  it('runs keys, key upload, package, task, whitelist and forged calls', async () => {
    const created = await admin('keys', 'create', '--tenant', TEST_CREDS.tenantId, '--description', 'secrets-suite');
    expect(created.code, created.stderr).toBe(0);
    const k = JSON.parse(created.stdout);
    cliKey = { accessKeyId: k.accessKeyId, accessKeySecret: k.accessKeySecret };
    keyPem = rsaKeyPair(2048).privatePem;
    expect((await rpc(cliKey, 'CreateMcubeVhost', { Vhost: 'h5app.com' })).json.ResultCode).toBe('OK');
    const keyUrl = await upload(cliKey, 'signing.pem', Buffer.from(keyPem));
    expect((await rpc(cliKey, 'UploadMcubeRsaKey', { FileUrl: keyUrl, OnexFlag: true })).json.ResultCode).toBe('OK');
    // a key cut short: the refusal must not echo the file
    const lines = keyPem.trim().split('\n');
    const notKey = await upload(cliKey, 'bad.pem', Buffer.from([...lines.slice(0, 12), lines[lines.length - 1]].join('\n') + '\n'));
    expect((await rpc(cliKey, 'UploadMcubeRsaKey', { FileUrl: notKey, OnexFlag: true })).json.ResultCode).not.toBe('OK');
    expect((await rpc(cliKey, 'CreateMcubeNebulaApp', { H5Id: '55667788', H5Name: 'secrets' })).json.ResultCode).toBe('OK');
    const zipUrl = await upload(cliKey, '55667788.zip', await makeH5Zip('55667788'));
    const res = await rpc(cliKey, 'CreateMcubeNebulaResource', {
      H5Id: '55667788', H5Name: 'secrets', H5Version: '1.0.0', ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
      FileUrl: zipUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
    });
    expect(res.json.ResultCode, JSON.stringify(res.json)).toBe('OK');
    const pkg = res.json.CreateMcubeNebulaResourceReslult.NebulaResourceId;
    expect((await rpc(TEST_CREDS, 'CreateMcubeNebulaTask', { Id: 0, PackageId: pkg, BizType: 'nebula', PublishType: 3 }, 'v1')).json.ResultCode).toBe('OK');
    const wl = await rpc(TEST_CREDS, 'CreateMcubeWhitelist', { WhiteListName: 'secrets', WhitelistType: 'normal' }, 'v1');
    expect((await rpc(cliKey, 'UpdateMcubeWhitelist', { Id: wl.json.CreateWhitelistResult.WhitelistId, KeyIds: 'u1,u2' })).json.ResultCode).toBe('OK');
    for (const style of ['acs3', 'v1'] as const) {
      for (const action of ['QueryMcubeVhost', 'CreateMcubeVhost']) {
        const forged = await rpc({ accessKeyId: cliKey.accessKeyId, accessKeySecret: randomBytes(15).toString('hex') }, action, { Vhost: 'forged.example.com' }, style);
        if (forged.status === 200) fig.add('forgedOrForeignAccepted');
        expect(forged.json.Code).toBe('SignatureDoesNotMatch');
      }
    }
  }, 120_000);

  it('the process output holds no secret, private key line, signature or Authorization value', async () => {
    await sleep(300); // let the logger flush
    const out = proc.stdout() + '\n' + proc.stderr();
    expect(out.length).toBeGreaterThan(1000);
    const needles = [...secretsOf(), ...keyMaterial(keyPem), ...sent.filter((s) => s.length >= 20), 'ACS3-HMAC-SHA256 Credential'];
    const found = needles.filter((n) => out.includes(n));
    fig.check('secretsInLogs', found.length);
    expect(found.map((f) => f.slice(0, 40))).toEqual([]);
    const errors = out.split('\n').filter((l) => /"level":"error"/.test(l));
    fig.add('crashes', errors.length);
    expect(errors).toEqual([]);
  });

  it('the audit rows (raw and through `admin audit list`) hold none either', async () => {
    const rows = await state.db.knex('audit_log').select('*');
    expect(rows.length).toBeGreaterThanOrEqual(8);
    const listed = await admin('audit', 'list', '--limit', '1000');
    expect(listed.code, listed.stderr).toBe(0);
    const text = JSON.stringify(rows) + listed.stdout;
    const needles = [...secretsOf(), ...keyMaterial(keyPem), ...sent.filter((s) => s.length >= 20), 'Signature', 'ACS3-HMAC'];
    const found = needles.filter((n) => text.includes(n));
    fig.check('secretsInAudit', found.length);
    expect(found.map((f) => f.slice(0, 40))).toEqual([]);
  });

  it('secrets are sealed at rest: raw rows and files hold no plain secret, and opening them needs the master key', async () => {
    const k = state.db.knex;
    const plain = [...secretsOf(), ...keyMaterial(keyPem)];
    let dump = '';
    for (const t of await tableNames(k, state.db.dialect)) dump += JSON.stringify(await k(t).select('*'));
    const inRows = plain.filter((p) => dump.includes(p));
    let inFiles: string[] = [];
    if (testDb === 'sqlite') {
      const files = readdirSync(env.dataDir).filter((f) => f.startsWith('mcube.sqlite')).map((f) => readFileSync(join(env.dataDir, f)).toString('latin1'));
      inFiles = plain.filter((p) => files.some((f) => f.includes(p)));
    }
    const objects = await listKeys(state.blobs, '');
    const inObjects: string[] = [];
    for (const key of objects) {
      const chunks: Buffer[] = [];
      for await (const c of await state.blobs.getStream(key)) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('latin1');
      for (const p of plain) if (body.includes(p)) inObjects.push(`${key}: ${p.slice(0, 20)}`);
    }
    fig.check('secretsAtRest', inRows.length + inFiles.length + inObjects.length);
    expect({ inRows, inFiles, inObjects }).toEqual({ inRows: [], inFiles: [], inObjects: [] });

    // The uploaded PEM is gone from the store and the work folder.
    const pemLeft = objects.filter((o) => o.endsWith('.pem'));
    const work = join(env.dataDir, 'work');
    const workLeft = existsSync(work) ? readdirSync(work) : [];
    fig.add('orphansLeft', pemLeft.length + workLeft.length);
    expect(pemLeft).toEqual([]);
    expect(workLeft).toEqual([]);

    // Opening needs the master key (and the row's own binding).
    const box = new SecretBox(Buffer.from(env.env.MCUBE_MASTER_KEY!, 'base64'));
    const wrong = new SecretBox(randomBytes(32));
    const ak = await k('access_keys').where({ id: cliKey.accessKeyId }).first('secret_enc');
    expect(ak.secret_enc).toMatch(/^v1:/);
    expect(box.open(ak.secret_enc, `ak:${cliKey.accessKeyId}`).toString()).toBe(cliKey.accessKeySecret);
    expect(() => wrong.open(ak.secret_enc, `ak:${cliKey.accessKeyId}`)).toThrow();
    expect(() => box.open(ak.secret_enc, `ak:${TEST_CREDS.accessKeyId}`)).toThrow();
    const rsa = await k('rsa_keys').where({ app_id: TEST_CREDS.appId }).first('private_key_enc');
    expect(rsa.private_key_enc).toMatch(/^v1:/);
    const opened = box.open(rsa.private_key_enc, `rsa:${TEST_CREDS.appId}:${TEST_CREDS.workspaceId}`).toString();
    expect(createPrivateKey(opened).export({ type: 'pkcs8', format: 'der' }).equals(createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' }))).toBe(true);
    expect(() => wrong.open(rsa.private_key_enc, `rsa:${TEST_CREDS.appId}:${TEST_CREDS.workspaceId}`)).toThrow();
  });
});

describe('signatures are compared in constant time', () => {
  it('every signature comparison of the verifiers goes through safeEqual, which uses crypto.timingSafeEqual', () => {
    const src = (p: string) => readFileSync(join(ROOT, 'packages/server/src', p), 'utf8');
    const crypto = src('core/crypto.ts');
    expect(crypto).toMatch(/import \{[^}]*timingSafeEqual[^}]*\} from 'node:crypto'/);
    const body = /export function safeEqual[\s\S]*?\n\}/.exec(crypto)![0];
    expect(body).toMatch(/return timingSafeEqual\(ab, bb\)/);
    const files = ['core/auth.ts', 'features/storage/local-signing.ts', 'features/storage/post-policy.ts'];
    const plain: string[] = [];
    for (const f of files) {
      const s = src(f);
      expect(s, f).toMatch(/import \{[^}]*safeEqual[^}]*\} from '[./]+core\/crypto\.js'|import \{[^}]*safeEqual[^}]*\} from '\.\/crypto\.js'/);
      // ===/!== between two values, one named like a signature, digest or hash, would be a plain comparison
      for (const m of s.matchAll(/([\w.!\])]+)\s*([!=]==)\s*([\w.'"`[(]+)/g)) {
        const [left, right] = [m[1]!, m[3]!];
        const literal = (x: string) => /^['"`\d]|^(undefined|null|true|false)$/.test(x) || /\.length$/.test(x);
        if (/signature|(^|[^a-z])sig([^a-z]|$)|digest|hash|expected|given/i.test(`${left} ${right}`) && !literal(left) && !literal(right)) plain.push(`${f}: ${m[0]}`);
      }
    }
    expect(src('core/auth.ts')).toMatch(/safeEqual\(sig, this\.auth\.signature\)/);
    expect(src('core/auth.ts')).toMatch(/safeEqual\(rpcSignature\(/);
    fig.check('plainComparisons', plain.length);
    expect(plain).toEqual([]);
    // and it behaves: equal, unequal, different lengths
    expect([safeEqual('abc', 'abc'), safeEqual('abc', 'abd'), safeEqual('abc', 'abcd'), safeEqual('', '')]).toEqual([true, false, false, true]);
  });
});

describe('keys rotate and are disabled without downtime', () => {
  interface Shot {
    t0: number;
    t1: number;
    status: number;
    code: string;
  }
  const stream = async (who: typeof cliKey, until: () => boolean): Promise<Shot[]> => {
    const shots: Shot[] = [];
    while (!until()) {
      const t0 = Date.now();
      const r = await rpc(who, 'QueryMcubeVhost', {});
      shots.push({ t0, t1: Date.now(), status: r.status, code: r.json?.Code ?? r.json?.ResultCode ?? '' });
      await sleep(20);
    }
    return shots;
  };

  it('the old key keeps working during the grace period, stops right after it; the new key works at once', async () => {
    let rotated: { accessKeyId: string; accessKeySecret: string; previousExpiresAt: string } | null = null;
    let graceEnd = Infinity;
    const shots = stream(cliKey, () => Date.now() > graceEnd + 2000);
    const r = await admin('keys', 'rotate', cliKey.accessKeyId, '--grace-seconds', '5');
    expect(r.code, r.stderr).toBe(0);
    rotated = JSON.parse(r.stdout);
    graceEnd = Date.parse(rotated!.previousExpiresAt);
    const fresh = { accessKeyId: rotated!.accessKeyId, accessKeySecret: rotated!.accessKeySecret };
    expect((await rpc(fresh, 'QueryMcubeVhost', {})).status).toBe(200);
    const all = await shots;
    const during = all.filter((s) => s.t1 < graceEnd);
    const after = all.filter((s) => s.t0 > graceEnd);
    const failedDuring = during.filter((s) => s.status !== 200);
    const acceptedAfter = after.filter((s) => s.status === 200);
    fig.check('failuresDuringGrace', failedDuring.length);
    fig.add('forgedOrForeignAccepted', acceptedAfter.length);
    fig.extra('rotation', { callsDuringGrace: during.length, callsAfterGrace: after.length });
    // how many calls fit depends on the machine's load; a few on each side are enough
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(failedDuring).toEqual([]);
    expect(after.map((s) => s.code)).toEqual(after.map(() => 'InvalidAccessKeyId.Inactive'));
    expect((await rpc(fresh, 'QueryMcubeVhost', {})).status).toBe(200);
    cliKey = fresh;
  }, 60_000);

  it('a disabled key is refused on every call made more than the key cache time (1 s) after the disable', async () => {
    const beforeDisable = await stream(cliKey, (() => {
      const end = Date.now() + 500;
      return () => Date.now() > end;
    })());
    expect(beforeDisable.every((s) => s.status === 200)).toBe(true);
    const d = await admin('keys', 'disable', cliKey.accessKeyId);
    expect(d.code, d.stderr).toBe(0);
    const disabledAt = Date.now();
    const shots = await stream(cliKey, () => Date.now() > disabledAt + 3000);
    const late = shots.filter((s) => s.t0 > disabledAt + 1100);
    const accepted = late.filter((s) => s.status === 200);
    const firstRefusal = shots.find((s) => s.status !== 200);
    fig.add('forgedOrForeignAccepted', accepted.length);
    fig.extra('disable', { firstRefusalAfterMs: firstRefusal ? firstRefusal.t1 - disabledAt : null, callsChecked: late.length });
    expect(late.length).toBeGreaterThanOrEqual(2);
    expect(late.map((s) => s.code)).toEqual(late.map(() => 'InvalidAccessKeyId.Inactive'));
    // the bootstrap key is untouched
    expect((await rpc(TEST_CREDS, 'QueryMcubeVhost', {})).status).toBe(200);
  }, 60_000);

  it('figures: zero in every column but inputs tried', () => {
    fig.expectClean();
  });
});
