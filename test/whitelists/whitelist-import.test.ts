import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { uploadWithToken, type FileToken } from '../helpers/upload.js';
import { openapiCore } from '../helpers/vendor-clients.js';

const N = 200_000;

/** N distinct ids in a mix of separators, plus duplicates, blanks and over-long ids. */
function bigFile(): { data: Buffer; failures: number; pieces: number } {
  const parts: string[] = ['\uFEFF'];
  for (let i = 0; i < N; i++) {
    const id = `user${String(i).padStart(7, '0')}`;
    parts.push(i % 3 === 0 ? ` ${id} ,` : i % 3 === 1 ? `${id}\r\n` : `${id}\n`);
  }
  for (let i = 0; i < 1000; i++) parts.push(`user${String(i * 7).padStart(7, '0')}\n\n`);
  parts.push('z'.repeat(300) + '\n', ' ,, \n', 'w'.repeat(5000));
  return { data: Buffer.from(parts.join(''), 'utf8'), failures: 2, pieces: N + 1000 + 2 };
}

describe('UpdateMcubeWhitelist with OssUrl (local storage driver)', () => {
  let srv: TestServer;
  let call: ReturnType<typeof openapiCore>;
  beforeAll(async () => {
    srv = await startTestServer();
    // a 200,000-id import can outlast the client's default 10 s read timeout on a busy 2-core machine
    call = openapiCore(srv.host, srv.creds, undefined, { readTimeout: 60_000, connectTimeout: 60_000 });
  });
  afterAll(async () => {
    await srv?.close();
  });

  const common = () => ({ AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId });
  const wl = async (action: string, body: Record<string, unknown>) => (await call(action, { ...common(), ...body })).body;
  const upload = async (name: string, data: Buffer) => {
    const token: FileToken = (await wl('GetMcubeFileToken', { OnexFlag: true })).GetFileTokenResult.FileToken;
    return uploadWithToken(token, name, data);
  };
  const count = async (id: string) => Number((await srv.node.deps.db.knex('whitelist_entries').where({ whitelist_id: Number(id) }).count({ n: '*' }))[0]!.n);
  const listed = async (name: string) => (await wl('ListMcubeWhitelists', { WhitelistName: name })).ListWhitelistResult.Whitelists[0];
  const stamp = async () => Number((await srv.node.deps.db.knex('change_stamps').first('stamp'))?.stamp ?? 0);

  it('imports 200,000 ids from an uploaded file together with inline ids, counting duplicates as success', async () => {
    const id = (await wl('CreateMcubeWhitelist', { WhiteListName: 'big', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    const file = bigFile();
    const url = await upload('ids.txt', file.data);
    const body = await wl('UpdateMcubeWhitelist', { Id: id, OnexFlag: true, OssUrl: url, KeyIds: 'inline-1,user0000000' });
    expect(body.ResultCode).toBe('OK');
    const info = body.AddWhitelistResult.AddWhitelistInfo;
    expect(info).toEqual({ SuccessNum: file.pieces - file.failures + 2, FailNum: file.failures, FailUserIds: expect.any(String) });
    expect(info.FailUserIds.split(',')).toEqual(['z'.repeat(64) + '...', 'w'.repeat(64) + '...']);
    expect(await count(id)).toBe(N + 1);
    expect(await listed('big')).toMatchObject({ WhiteListCount: N + 1 });

    // the same file again adds nothing new
    const again = await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: url });
    expect(again.AddWhitelistResult.AddWhitelistInfo.SuccessNum).toBe(file.pieces - file.failures);
    expect(await count(id)).toBe(N + 1);
  });

  it('refuses a file that is not UTF-8 text, storing nothing, and reads a UTF-16 one (Excel "Unicode text")', async () => {
    const id = (await wl('CreateMcubeWhitelist', { WhiteListName: 'encodings', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    const before = await stamp();
    // Latin-1 "josé"/"josè": stored as one "jos\uFFFD" and counted as three successes before
    const latin1 = await wl('UpdateMcubeWhitelist', { Id: id, OnexFlag: true, OssUrl: await upload('latin1.txt', Buffer.from('jos\xe9\njos\xe8\nplain\n', 'latin1')) });
    expect(latin1).toMatchObject({ ResultCode: 'InvalidFileEncoding', AddWhitelistResult: { Success: false } });
    expect(latin1.ResultMessage).toMatch(/not UTF-8 text .* Nothing was added/);
    expect(await count(id)).toBe(0);
    expect(await stamp()).toBe(before);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('alice\r\nbob\r\n', 'utf16le')]);
    const read = await wl('UpdateMcubeWhitelist', { Id: id, OnexFlag: true, OssUrl: await upload('unicode.txt', utf16) });
    expect(read.AddWhitelistResult.AddWhitelistInfo).toMatchObject({ SuccessNum: 2, FailNum: 0 });
    expect(((await srv.node.deps.db.knex('whitelist_entries').where({ whitelist_id: Number(id) }).pluck('value')) as string[]).sort()).toEqual(['alice', 'bob']);
  });

  it('leaves nothing half-written when an import fails part-way (cap on ids per call)', async () => {
    const id = (await wl('CreateMcubeWhitelist', { WhiteListName: 'capped', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    const url = await upload('ids.txt', bigFile().data);
    const limits = srv.node.deps.config.whitelists;
    const saved = limits.importMaxIds;
    limits.importMaxIds = 50_000;
    const before = await stamp();
    try {
      const body = await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: url });
      expect(body.ResultCode).toBe('WhitelistImportTooLarge');
      expect(body.AddWhitelistResult).toMatchObject({ Success: false, ResultMsg: expect.stringContaining('50000') });
    } finally {
      limits.importMaxIds = saved;
    }
    expect(await count(id)).toBe(0);
    expect(await listed('capped')).toMatchObject({ WhiteListCount: 0 });
    expect(await stamp()).toBe(before);
  });

  it('refuses files over the import size limit and URLs outside our storage, storing nothing', async () => {
    const id = (await wl('CreateMcubeWhitelist', { WhiteListName: 'refusals', WhitelistType: 'normal' })).CreateWhitelistResult.WhitelistId;
    const url = await upload('small.txt', Buffer.from('a,b,c\n'));
    const limits = srv.node.deps.config.whitelists;
    const saved = limits.importMaxBytes;
    limits.importMaxBytes = 5;
    try {
      const big = await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: url });
      expect(big.ResultCode).toBe('FileTooLarge');
    } finally {
      limits.importMaxBytes = saved;
    }
    for (const foreign of ['http://example.com/ids.txt', `${srv.url}/_storage/obj/uploads/TENANT02/ALIPUB0000002-default/x/ids.txt`, 'file:///etc/passwd']) {
      const body = await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: foreign, KeyIds: 'inline' });
      expect(body.ResultCode, foreign).toBe('InvalidFileUrl');
      expect(body.AddWhitelistResult.Success).toBe(false);
    }
    expect(await count(id)).toBe(0);
    const ok = await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: url });
    expect(ok.AddWhitelistResult.AddWhitelistInfo).toEqual({ SuccessNum: 3, FailNum: 0, FailUserIds: '' });
  });

  it('reads a regular-expression list from a file, one expression per line, all or nothing', async () => {
    const id = (await wl('CreateMcubeWhitelist', { WhiteListName: 'regex-file', WhitelistType: 'regex' })).CreateWhitelistResult.WhitelistId;
    const good = await upload('rx.txt', Buffer.from('user[0-9]{1,3}\r\nvip_.*\n'));
    expect((await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: good })).AddWhitelistResult.AddWhitelistInfo.SuccessNum).toBe(2);
    const bad = await upload('rx.txt', Buffer.from('ok_\\d+\n(a+)+$\n'));
    expect((await wl('UpdateMcubeWhitelist', { Id: id, OssUrl: bad })).ResultCode).toBe('InvalidWhitelistRegex');
    expect(await count(id)).toBe(2);
  });
});

describe('UpdateMcubeWhitelist with OssUrl (s3 driver against s3rver)', () => {
  let s3: RunningS3rver;
  let srv: TestServer;
  beforeAll(async () => {
    s3 = await startS3rver();
    srv = await startTestServer(s3.env);
  });
  afterAll(async () => {
    await srv?.close();
    await s3?.close();
  });

  it('streams the uploaded object from the bucket', async () => {
    const call = openapiCore(srv.host, srv.creds);
    const common = { AppId: srv.creds.appId, WorkspaceId: srv.creds.workspaceId, TenantId: srv.creds.tenantId };
    const id = (await call('CreateMcubeWhitelist', { ...common, WhiteListName: 's3', WhitelistType: 'normal' })).body.CreateWhitelistResult.WhitelistId;
    const token = (await call('GetMcubeFileToken', { ...common, OnexFlag: true })).body.GetFileTokenResult.FileToken;
    const ids = Array.from({ length: 5000 }, (_, i) => `s3user${i}`);
    const url = await uploadWithToken(token, 'ids.csv', Buffer.from(ids.join(',')));
    const body = (await call('UpdateMcubeWhitelist', { ...common, Id: id, OssUrl: url })).body;
    expect(body.AddWhitelistResult.AddWhitelistInfo).toEqual({ SuccessNum: 5000, FailNum: 0, FailUserIds: '' });
    const stored = await srv.node.deps.db.knex('whitelist_entries').where({ whitelist_id: Number(id) }).orderBy('value').pluck('value');
    expect([...stored].sort()).toEqual([...ids].sort());
  });
});
