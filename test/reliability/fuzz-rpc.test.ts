import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRegistry } from '../../packages/server/src/actions.js';
import { TenantStore } from '../../packages/server/src/features/tenants/tenant-store.js';
import { startServerProcess, type ServerProcess } from '../helpers/process.js';
import { makeTestEnv, TEST_CREDS, type TestEnv } from '../helpers/server.js';
import { AUTH_TABLES, changedTables, listKeys, openSharedState, tableCounts, tableDigests, type SharedState } from './lib/db-state.js';
import { SuiteFigures } from './lib/figures.js';
import { generateCases, type CaseAnswer, type FuzzCase, type FuzzContext } from './lib/fuzz-inputs.js';
import { runPool } from './lib/run-pool.js';
import { Prng, runSeed } from './lib/prng.js';
import { sendRequest, signAcs3 } from '../helpers/signing.js';

/**
 * Generated malformed requests against the RPC entry of a real server
 * process: every input gets a POP 4xx (or, when signed and well-formed, a
 * business answer) within a bound, the process survives, and nothing is
 * written but the nonce and audit rows of authenticated callers.
 * Replay a run with MCUBE_FUZZ_SEED=<seed>; size it with MCUBE_FUZZ_INPUTS.
 */
const SEED = runSeed();
const INPUTS = Number(process.env.MCUBE_FUZZ_INPUTS) > 0 ? Number(process.env.MCUBE_FUZZ_INPUTS) : 3000;
const BODY_TIMEOUT_MS = 1000;

const fig = new SuiteFigures(
  'fuzz-rpc',
  {
    inputsTried: 'generated requests sent to the RPC entry (seeded)',
    crashes: 'answers with a 5xx status, error-level log lines, unhandled rejections/exceptions, and a process that died or stopped answering /healthz',
    hangs: 'requests without an answer within 15 s (stalled bodies: within MCUBE_BODY_TIMEOUT_MS + 10 s)',
    forgedOrForeignAccepted: 'unsigned, forged, stale, replayed or malformed requests answered 200, plus signed garbage a mutating action accepted (ResultCode OK)',
    overAdmissions: 'n/a: no time-window task is involved',
    orphansLeft: 'objects that appeared in the blob store during the run (refused requests must store nothing)',
    bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
  },
  SEED,
);
for (const c of ['badAnswers', 'noAnswer', 'stallNot408', 'rowsWritten', 'unexpectedAuditRows', 'missingAuditRows', 'nonceRowsMismatch', 'replayBaselineFailed']) fig.check(c);

const actions = buildRegistry().all();
let env: TestEnv;
let proc: ServerProcess;
let state: SharedState;
let ctx: FuzzContext;

beforeAll(async () => {
  env = makeTestEnv({ MCUBE_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS), MCUBE_JANITOR_INTERVAL_SEC: '0' });
  proc = await startServerProcess(env.env);
  state = await openSharedState(env.env);
  const store = new TenantStore(state.db, state.box);
  await store.ensureTenant('TENANT02');
  await store.ensureApp('TENANT02', 'ALIPUB0000002');
  await store.ensureWorkspace('ALIPUB0000002', 'default');
  const other = await store.createAccessKey('TENANT02');
  const disabled = await store.createAccessKey(TEST_CREDS.tenantId);
  await store.setKeyStatus(disabled.id, 'disabled');
  ctx = {
    actions,
    host: proc.host,
    own: { accessKeyId: TEST_CREDS.accessKeyId, secret: TEST_CREDS.accessKeySecret, appId: TEST_CREDS.appId, workspaceId: TEST_CREDS.workspaceId, tenantId: TEST_CREDS.tenantId },
    other: { accessKeyId: other.id, secret: other.secret, appId: 'ALIPUB0000002', workspaceId: 'default', tenantId: 'TENANT02' },
    disabled: { accessKeyId: disabled.id, secret: disabled.secret },
    bodyTimeoutMs: BODY_TIMEOUT_MS,
    maxBodyBytes: state.config.http.maxBodyBytes,
  };
}, 60_000);

afterAll(async () => {
  fig.write();
  await proc?.stop('SIGKILL');
  await state?.close();
  await env?.cleanup();
});

const isPop = (a: CaseAnswer) =>
  a.status >= 400 && a.status < 500 && typeof a.json?.RequestId === 'string' && typeof a.json?.Code === 'string' && typeof a.json?.Message === 'string' && a.json.Message.length > 0;

function isBusinessAnswer(a: CaseAnswer, action: string | null): boolean {
  const def = actions.find((d) => d.name === action);
  if (a.status !== 200 || !def || typeof a.json?.RequestId !== 'string' || typeof a.json?.ResultCode !== 'string') return false;
  return typeof a.json[def.resultKey]?.Success === 'boolean';
}

/** One failure description per broken invariant, or null. */
function judge(c: FuzzCase, a: CaseAnswer): string | null {
  if (a.timedOut) {
    fig.add('hangs');
    return `hang after ${a.ms} ms`;
  }
  if (a.status >= 500) {
    fig.add('crashes');
    return `HTTP ${a.status} ${a.json?.Code ?? a.body.toString().slice(0, 80)}`;
  }
  if (c.mustRefuse && a.status === 200) {
    fig.add('forgedOrForeignAccepted');
    return 'accepted with 200';
  }
  if (c.kind.endsWith('/replay') && a.baseline?.status !== 200) fig.check('replayBaselineFailed', 1);
  switch (c.expect) {
    case 'none':
      return null;
    case 'pop4xx-or-closed':
      return a.status === 0 || isPop(a) ? null : (fig.check('badAnswers', 1), `not a POP 4xx: ${a.status} ${a.body.toString().slice(0, 80)}`);
    case 'timeout408':
      if (a.status === 408 && a.json?.Code === 'RequestTimeout' && isPop(a)) return null;
      fig.check('stallNot408', 1);
      return `stall answered ${a.status} ${a.json?.Code ?? ''}`;
    case 'pop4xx':
    case 'answer': {
      if (a.status === 0) {
        fig.check('noAnswer', 1);
        return 'connection closed without an answer';
      }
      if (isPop(a)) return null;
      if (c.expect === 'answer' && isBusinessAnswer(a, c.action)) {
        if (c.mutating && a.json.ResultCode === 'OK') {
          fig.add('forgedOrForeignAccepted');
          return `mutating action accepted garbage: ${JSON.stringify(a.json).slice(0, 200)}`;
        }
        return null;
      }
      fig.check('badAnswers', 1);
      return `not a POP 4xx${c.expect === 'answer' ? ' nor a business answer' : ''}: ${a.status} ${a.body.toString().slice(0, 120)}`;
    }
  }
}

describe('fuzzing the RPC entry', () => {
  it(`answers ${INPUTS} generated malformed requests (seed ${SEED}) with POP 4xx or business errors, in bounded time, writing nothing`, async () => {
    const prng = new Prng(SEED);
    const cases = generateCases(prng, ctx, INPUTS);
    const before = await tableCounts(state.db);
    const contentBefore = await tableDigests(state.db, AUTH_TABLES);
    const objectsBefore = await listKeys(state.blobs, '');
    const t0 = Date.now();
    const answers = await runPool(cases, 12, (c) => c.run(proc.host));
    fig.extra('durationMs', Date.now() - t0);
    fig.add('inputsTried', cases.length);

    const failures: string[] = [];
    const byKind: Record<string, number> = {};
    const byAnswer: Record<string, number> = {};
    let stallMaxMs = 0;
    cases.forEach((c, i) => {
      const a = answers[i]!;
      byKind[c.kind.split('/')[0]!] = (byKind[c.kind.split('/')[0]!] ?? 0) + 1;
      const label = a.timedOut ? 'timeout' : a.status === 0 ? 'closed' : `${a.status} ${a.json?.Code ?? a.json?.ResultCode ?? '?'}`;
      byAnswer[label] = (byAnswer[label] ?? 0) + 1;
      if (c.expect === 'timeout408') stallMaxMs = Math.max(stallMaxMs, a.ms);
      const why = judge(c, a);
      if (why) failures.push(`#${c.id} ${c.kind} ${c.action ?? ''}: ${why}; sent ${JSON.stringify(c.preview.slice(0, 300))}`);
    });
    fig.extra('inputsByKind', byKind);
    fig.extra('answers', byAnswer);
    fig.extra('stallAnswerMaxMs', stallMaxMs);

    // The process is alive and answers.
    const healthy = await fetch(proc.url + '/healthz').then((r) => r.status === 200, () => false);
    if (!healthy || proc.proc.exitCode !== null) fig.add('crashes');
    const lines = proc.stdout().split('\n').filter(Boolean);
    const errorLines = lines.filter((l) => /"level":"error"/.test(l));
    const stderrProblems = proc.stderr().split('\n').filter((l) => /unhandled|uncaught|ERR_|Error:/i.test(l));
    fig.add('crashes', errorLines.length + stderrProblems.length);
    fig.extra('errorLogLines', [...errorLines, ...stderrProblems].slice(0, 10));

    // Nothing written but the rows an authenticated caller always leaves.
    const after = await tableCounts(state.db);
    // every table but the auth ones keeps its content, not only its row count: an update in place is a write too
    const changed = changedTables(contentBefore, await tableDigests(state.db, AUTH_TABLES));
    fig.check('rowsWritten', changed.length);
    const objectsAfter = await listKeys(state.blobs, '');
    const newObjects = objectsAfter.filter((k) => !objectsBefore.includes(k));
    fig.add('orphansLeft', newObjects.length);
    // Who authenticated, as the server's request log says (tenantId is set only for an authenticated caller; accessKeyId
    // names the key a call claimed, also when refused): a forged request never does; each
    // authenticated one used one nonce, and each authenticated mutating one left its audit row.
    await new Promise((r) => setTimeout(r, 200)); // the logger flushes once per tick
    const rpcLines = proc.stdout().split('\n').filter((l) => l.includes('"msg":"rpc"')).map((l) => JSON.parse(l) as { requestId: string; action: string | null; accessKeyId: string | null; tenantId: string | null });
    const authenticated = new Map(rpcLines.filter((l) => l.tenantId !== null).map((l) => [l.requestId, l]));
    const mutatingNames = new Set(actions.filter((d) => d.mutates).map((d) => d.name));
    cases.forEach((c, i) => {
      const a = answers[i]!;
      if (c.mustRefuse && typeof a.json?.RequestId === 'string' && authenticated.has(a.json.RequestId)) {
        fig.add('forgedOrForeignAccepted');
        failures.push(`#${c.id} ${c.kind}: authenticated`);
      }
    });
    const audit: Array<{ request_id: string }> = await state.db.knex('audit_log').select('request_id');
    const audited = new Set(audit.map((r) => r.request_id));
    const strangers = audit.filter((r) => !authenticated.has(r.request_id)).map((r) => r.request_id);
    const unaudited = [...authenticated.values()].filter((l) => l.action !== null && mutatingNames.has(l.action) && !audited.has(l.requestId)).map((l) => l.requestId);
    fig.check('unexpectedAuditRows', strangers.length);
    fig.check('missingAuditRows', unaudited.length);
    const nonceGrowth = after.request_nonces! - before.request_nonces!;
    fig.check('nonceRowsMismatch', Math.abs(nonceGrowth - authenticated.size));
    fig.extra('authRows', { authenticatedRequests: authenticated.size, nonces: nonceGrowth, audit: audit.length - before.audit_log!, rateWindows: after.rate_windows! - before.rate_windows! });

    fig.extra('firstFailures', failures.slice(0, 25));
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);
    expect(healthy).toBe(true);
    expect(errorLines.concat(stderrProblems)).toEqual([]);
    expect(changed).toEqual([]);
    expect(newObjects).toEqual([]);
    expect(strangers).toEqual([]);
    expect(unaudited).toEqual([]);
    expect(nonceGrowth).toBe(authenticated.size);
  }, 600_000);

  it('still serves a genuine signed call afterwards', async () => {
    const r = await sendRequest(proc.host, signAcs3({ host: proc.host, accessKeyId: TEST_CREDS.accessKeyId, secret: TEST_CREDS.accessKeySecret }, 'CreateMcubeVhost', { AppId: TEST_CREDS.appId, WorkspaceId: 'default', Vhost: 'after-fuzz.example.com' }), 15_000);
    expect(r.status, r.body.toString()).toBe(200);
    expect(r.json.CreateVhostResult.Success).toBe(true);
    const row = await state.db.knex('vhosts').where({ app_id: TEST_CREDS.appId }).first('vhost');
    expect(row.vhost).toBe('after-fuzz.example.com');
  });

  it('figures: zero in every column but inputs tried', () => {
    fig.expectClean();
  });
});
