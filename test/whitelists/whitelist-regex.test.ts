import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWhitelistRegex, regexProblem } from '../../packages/server/src/features/whitelists/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openapiCore } from '../helpers/vendor-clients.js';

describe('compileWhitelistRegex and regexProblem', () => {
  it('anchors the expression so it must match the whole user id', () => {
    const re = compileWhitelistRegex('user[0-9]{1,3}|vip');
    expect(re.test('user12')).toBe(true);
    expect(re.test('vip')).toBe(true);
    expect(re.test('xuser12')).toBe(false);
    expect(re.test('user1234')).toBe(false);
    expect(re.test('vipx')).toBe(false);
    expect(re.test('USER12')).toBe(false);
  });

  it('accepts plain id patterns and refuses unsafe, invalid or exotic ones', async () => {
    for (const ok of ['^user\\d+$', 'a.*b', '[A-Z]{2}-\\d{4,8}', '(ab|cd)*e', 'x\\dy', '[\\1]']) {
      expect(await regexProblem(ok), ok).toBeNull();
    }
    expect(await regexProblem('(a+)+$')).toMatch(/catastrophically/);
    expect(await regexProblem('(x+x+)+y')).toMatch(/catastrophically/);
    expect(await regexProblem('([a-z]+)*@')).toMatch(/catastrophically/);
    // star height 1, yet exponential or steeply polynomial: harmless now that V8 finishes them on its
    // linear engine, so accepted, and a hostile id is answered at once
    for (const e of ['^(a|aa)+$', '(ab|abab)+c', '.*a.*a.*a.*b']) {
      expect(await regexProblem(e), e).toBeNull();
      expect(compileWhitelistRegex(e).test('a'.repeat(200) + 'ab'.repeat(20) + 'x'), e).toBe(false);
    }
    // where the linear engine cannot take over (counts above 16), such expressions are still refused
    expect(await regexProblem('(?:a|aa){1,30}x')).toMatch(/not to a group/);
    expect(await regexProblem('(a|a){20}')).toMatch(/not to a group/);
    expect(await regexProblem('[a-')).toMatch(/not a valid regular expression/);
    expect(await regexProblem('a)(b')).toMatch(/not a valid regular expression/);
    expect(await regexProblem('(a)\\1')).toMatch(/backreferences/);
    expect(await regexProblem('(?<n>a)\\k<n>')).toMatch(/backreferences/);
    expect(await regexProblem('(?=a)a')).toMatch(/lookarounds/);
    expect(await regexProblem('a(?<!b)')).toMatch(/lookarounds/);
    expect(await regexProblem('a'.repeat(257))).toMatch(/256/);
    expect(await regexProblem('a'.repeat(256))).toBeNull();
  });

  it('an expression that slips past the checks and backtracks badly still answers at once (V8 falls back to its linear engine)', () => {
    // six starred groups in a row: accepted by the static checks, and 10 s per id of 255 characters without the fallback
    const hostile = '(?:q\\d)*'.repeat(6);
    const re = compileWhitelistRegex(hostile);
    expect(re.test('q0'.repeat(127) + 'x')).toBe(false);
    expect(re.test('q0q1q2')).toBe(true);
  });

  it('refuses an expression too slow on repetitive ids, and the event loop keeps turning while it is tried', async () => {
    // passes the static rules (two repetitions, the count on one character), but (a|aa)* cannot fall back to
    // the linear engine beside b{17}: exponential on "aaaa…". The probes ran on the main thread and held every
    // request of the node for the 0.6 s of both budgets.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      expect(await regexProblem('(a|aa)*b{17}')).toMatch(/too slow on repetitive user ids/);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
    // the worker that was stopped is replaced: the next expression is tried and accepted
    expect(await regexProblem('vip\\d{1,8}')).toBeNull();
  });

  it('refuses repetition counts above 16 (no linear-time fallback) unless the expression repeats at most twice', async () => {
    for (const ok of ['\\d{18}', '[A-Z]{2}-\\d{4,20}', 'user_\\d{1,30}', 'a{1,16}b*c+d*']) expect(await regexProblem(ok), ok).toBeNull();
    for (const bad of ['a*b*\\d{1,20}', '(?:q\\d{1,20})+x+y*', 'a{0,100}b{0,100}c{0,100}']) expect(await regexProblem(bad), bad).toMatch(/above 16/);
  });

  it('refuses Java-only syntax that JavaScript would silently read as literal text, and keeps what both read alike', async () => {
    // each of these compiles in JavaScript with another meaning (\\p{L}+ would match only the id "p{L}")
    for (const [java, why] of [
      ['\\p{L}+', /\\p is not supported/],
      ['\\p{Digit}+', /\\p is not supported/],
      ['\\P{Lu}', /\\P is not supported/],
      ['\\Auser\\d+\\z', /\\A is not supported/],
      ['user\\d+\\Z', /\\Z is not supported/],
      ['\\Quser.1\\E', /\\Q is not supported/],
      ['a\\hb', /\\h is not supported/],
      ['\\x{41}', /two hex digits/],
      ['\\u41', /four hex digits/],
      ['[a[bc]]', /nested classes/],
      ['[[:digit:]]+', /nested classes/],
      ['[a-z&&[^aeiou]]', /nested classes|intersection/],
      ['[a-z&&b]', /intersection/],
      ['[]a]', /empty character class/],
      ['[\\S_]+', /\\S inside a character class/],
    ] as const) {
      expect(await regexProblem(java), java).toMatch(why);
    }
    for (const both of ['\\d{6,}', '\\w+@corp\\.com', '[\\[\\]]x', '\\x41\\u0042', 'a\\tb', '\\bx', '[^a]\\S\\W\\D', 'a&&b', '\\cJ?x']) {
      expect(await regexProblem(both), both).toBeNull();
    }
  });

  it('reads \\s and \\S as Java does: ASCII spaces only', () => {
    // JavaScript's \s also takes U+00A0, U+2003, U+3000...: an id Java's String.matches refuses was let in
    const spaced = compileWhitelistRegex('first\\slast');
    expect(['first last', 'first\tlast', 'first\u000Blast'].map((id) => spaced.test(id))).toEqual([true, true, true]);
    expect(['first\u00A0last', 'first\u2003last', 'first\u3000last'].map((id) => spaced.test(id))).toEqual([false, false, false]);
    expect(compileWhitelistRegex('\\S+').test('ab\u00A0c')).toBe(true);
    expect(compileWhitelistRegex('[\\s_]+x').test(' _\u00A0x')).toBe(false);
    expect(compileWhitelistRegex('[\\s_]+x').test(' _\tx')).toBe(true);
    // an escaped backslash before an s is no \s
    expect(compileWhitelistRegex('a\\\\s').test('a\\s')).toBe(true);
  });
});

describe('regular-expression whitelists over the wire', () => {
  let srv: TestServer;
  let call: ReturnType<typeof openapiCore>;
  beforeAll(async () => {
    srv = await startTestServer();
    call = openapiCore(srv.host, srv.creds);
  });
  afterAll(async () => {
    await srv?.close();
  });

  const wl = async (action: string, body: Record<string, unknown>) =>
    (await call(action, { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId, ...body })).body;
  const values = async (id: string) =>
    (await srv.node.deps.db.knex('whitelist_entries').where({ whitelist_id: Number(id) }).select('value').orderBy('value')).map((r: { value: string }) => r.value);
  const stamp = async () => Number((await srv.node.deps.db.knex('change_stamps').first('stamp'))?.stamp ?? 0);
  const createRegex = async (name: string) => (await wl('CreateMcubeWhitelist', { WhiteListName: name, WhitelistType: 'regexp' })).CreateWhitelistResult.WhitelistId as string;

  it('stores expressions one per line, untouched (commas included), duplicates counted once', async () => {
    const id = await createRegex('regex-basic');
    const body = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: ' user[0-9]{1,3} \r\nvip\\d+\n\nvip\\d+' });
    expect(body.ResultCode).toBe('OK');
    expect(body.AddWhitelistResult.AddWhitelistInfo).toEqual({ SuccessNum: 3, FailNum: 0, FailUserIds: '' });
    expect(await values(id)).toEqual(['user[0-9]{1,3}', 'vip\\d+'].sort());
    const rm = await wl('DeleteMdsWhitelistContent', { WhitelistId: id, WhitelistValue: 'vip\\d+' });
    expect(rm.ResultContent.Data.Success).toBe(true);
    expect(await values(id)).toEqual(['user[0-9]{1,3}']);
  });

  it('holds at most 20 expressions: the 21st is refused and nothing of that call is stored', async () => {
    const id = await createRegex('regex-limit');
    const twenty = Array.from({ length: 20 }, (_, i) => `grp${i}_\\d+`);
    const ok = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: twenty.slice(0, 19).join('\n') });
    expect(ok.AddWhitelistResult.AddWhitelistInfo.SuccessNum).toBe(19);
    const before = await stamp();
    const over = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: `${twenty[19]}\nextra\\d+` });
    expect(over.ResultCode).toBe('WhitelistRegexLimit');
    expect(over.AddWhitelistResult).toMatchObject({ Success: false, ResultMsg: expect.stringContaining('20') });
    expect((await values(id)).length).toBe(19);
    expect(await stamp()).toBe(before);
    const last = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: twenty[19] });
    expect(last.ResultCode).toBe('OK');
    const again = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: twenty[0] });
    expect(again.ResultCode).toBe('OK');
    const list = await wl('ListMcubeWhitelists', { WhitelistName: 'regex-limit' });
    expect(list.ListWhitelistResult.Whitelists[0]).toMatchObject({ WhitelistType: 'regex', WhiteListCount: 20 });
    const twentyFirst = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: 'one_more' });
    expect(twentyFirst.ResultCode).toBe('WhitelistRegexLimit');
    expect((await values(id)).length).toBe(20);
  });

  it.each([
    ['catastrophic backtracking', '(a+)+$', /catastrophically/],
    ['overlapping alternatives with a count above 16', '(\\d|\\d\\d){1,20}x', /catastrophically/],
    ['invalid syntax', 'user[0-9', /not a valid regular expression/],
    ['backreference', '(ab)\\1', /backreferences/],
    ['lookahead', '(?!admin).*', /lookarounds/],
    ['Java-only syntax', '\\p{L}+', /\\p is not supported/],
    ['over 256 characters', 'b'.repeat(300), /256/],
  ])('refuses %s and stores nothing of the call', async (what, expr, why) => {
    const id = await createRegex(`regex-refuse ${what}`);
    expect(id).toMatch(/^\d+$/);
    const body = await wl('UpdateMcubeWhitelist', { Id: id, KeyIds: `fine\\d+\n${expr}` });
    expect(body.ResultCode).toBe('InvalidWhitelistRegex');
    expect(body.AddWhitelistResult.Success).toBe(false);
    expect(body.AddWhitelistResult.ResultMsg).toMatch(why);
    expect(await values(id)).toEqual([]);
  });
});
