import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcube, uploadFile, type Call } from '../helpers/nebula.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { eachCentralRecord, replaceAll, writeManyEmptyFilesZip, writePatchedZip, writeZip, type FixtureEntry } from '../packages/zip-fixtures.js';
import { listKeys } from './lib/db-state.js';
import { SuiteFigures } from './lib/figures.js';

/**
 * Hostile archives through the real actions: GetMcubeFileToken, the upload
 * form, CreateMcubeNebulaResource. Each is refused with a business error that
 * names the problem, leaves no package row, no stored object under pkg/ and
 * no work files; the server's memory growth around each call is recorded.
 */
const H5 = '12345678';
const TOTAL_CAP = 4 * 1024 * 1024;
const CALL_BOUND_MS = 120_000;

const fig = new SuiteFigures('hostile-archives', {
  inputsTried: 'hostile archives uploaded and passed to CreateMcubeNebulaResource',
  crashes: '5xx answers and error-level log lines of the server',
  hangs: `CreateMcubeNebulaResource calls without an answer within ${CALL_BOUND_MS / 1000} s`,
  forgedOrForeignAccepted: 'hostile archives accepted (a package row created)',
  overAdmissions: 'n/a: no time-window task is involved',
  orphansLeft: 'objects under pkg/, blob registry rows and work-folder entries left after the refusals',
  bytesFetchedFromForeignUrls: 'n/a: covered by foreign-urls',
});
for (const c of ['wrongCode', 'messageDoesNotNameProblem']) fig.check(c);

let srv: TestServer;
let call: Call;
let dir: string;
const memory: Record<string, { rssGrowthMB: number; peakGrowthMB: number; zipBytes: number }> = {};

beforeAll(async () => {
  srv = await startTestServer({ MCUBE_ZIP_MAX_TOTAL_BYTES: String(TOTAL_CAP), MCUBE_JANITOR_INTERVAL_SEC: '0' });
  call = mcube(srv);
  expect((await call('CreateMcubeVhost', { Vhost: 'h5app.com' })).ResultCode).toBe('OK');
  expect((await call('CreateMcubeNebulaApp', { H5Id: H5, H5Name: 'hostile' })).ResultCode).toBe('OK');
  dir = mkdtempSync(join(tmpdir(), 'mcube-hostile-archives-'));
}, 60_000);

afterAll(async () => {
  fig.extra('memoryByArchive', memory);
  fig.write();
  await srv?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ok = (name = `${H5}/www/index.html`): FixtureEntry => ({ name, data: '<p>ok</p>' });
let n = 0;
const path = () => join(dir, `a${++n}.zip`);

async function zipOf(entries: FixtureEntry[]): Promise<Buffer> {
  const p = path();
  await writeZip(p, entries);
  return readFileSync(p);
}
async function patched(entries: FixtureEntry[], patch: (zip: Buffer) => void): Promise<Buffer> {
  const p = path();
  await writePatchedZip(p, entries, patch);
  return readFileSync(p);
}
function centralByName(zip: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  eachCentralRecord(zip, (at) => out.set(zip.toString('utf8', at + 46, at + 46 + zip.readUInt16LE(at + 28)), at));
  return out;
}

interface Hostile {
  name: string;
  build(): Promise<Buffer>;
  codes: string[];
  /** what the message must name */
  names: RegExp;
}

const ARCHIVES: Hostile[] = [
  { name: 'zip-slip ..', build: () => patched([ok(), ok(`${H5}/XX/evil.txt`)], (z) => replaceAll(z, `${H5}/XX/evil`, `${H5}/../evil`)), codes: ['ZipSlip'], names: /\.\./ },
  { name: 'zip-slip backslashes', build: () => patched([ok(), ok(`${H5}/www/zz/evil`)], (z) => replaceAll(z, 'www/zz/evil', 'www\\..\\evil')), codes: ['ZipSlip', 'AbsolutePath'], names: /\.\.|backslash/ },
  { name: 'absolute path', build: () => patched([ok(), ok('Xetc/passwd')], (z) => replaceAll(z, 'Xetc/passwd', '/etc/passwd')), codes: ['AbsolutePath'], names: /\/etc\/passwd/ },
  { name: 'drive letter', build: () => patched([ok(), ok('CX/evil.txt')], (z) => replaceAll(z, 'CX/evil.txt', 'C:/evil.txt')), codes: ['AbsolutePath'], names: /C:/ },
  { name: 'symlink entry', build: () => zipOf([ok(), { name: `${H5}/www/passwd`, data: '/etc/passwd', mode: 0o120777 }]), codes: ['LinkEntry'], names: /www\/passwd.*link|link.*www\/passwd/i },
  { name: 'zip bomb (one entry, ratio)', build: () => zipOf([ok(), { name: `${H5}/zeros.bin`, data: Buffer.alloc(3 * 1024 * 1024) }]), codes: ['ZipBomb'], names: /expands \d+ times/ },
  { name: 'zip bomb (many entries, ratio)', build: () => zipOf([ok(), ...[1, 2, 3].map((i) => ({ name: `${H5}/z${i}.bin`, data: Buffer.alloc(1_000_000) }))]), codes: ['ZipBomb'], names: /expands \d+ times/ },
  {
    name: 'zip bomb (total cap)',
    build: () => zipOf([ok(), ...[1, 2, 3, 4, 5].map((i) => ({ name: `${H5}/r${i}.bin`, data: randomBytes(1024 * 1024), compress: false }))]),
    codes: ['TooLarge'],
    names: new RegExp(`${TOTAL_CAP} bytes`),
  },
  {
    name: 'zip bomb (declared size lies)',
    // the same lie in the directory record and the local header (a lie in one only is refused as a disagreement)
    build: () =>
      patched([ok(), { name: `${H5}/a.txt`, data: 'abcdefghij'.repeat(500) }], (z) => {
        const at = centralByName(z).get(`${H5}/a.txt`)!;
        z.writeUInt32LE(100, at + 24);
        z.writeUInt32LE(100, z.readUInt32LE(at + 42) + 22);
      }),
    codes: ['ZipBomb'],
    names: /entry ".*\/a\.txt" inflates beyond its declared/,
  },
  {
    name: 'zip bomb (overlapping entries)',
    build: () =>
      patched([{ name: `${H5}/a.bin`, data: randomBytes(300_000), compress: false }, ok(`${H5}/b.bin`), ok(`${H5}/c.bin`)], (z) => {
        const byName = centralByName(z);
        const a = byName.get(`${H5}/a.bin`)!;
        for (const other of [`${H5}/b.bin`, `${H5}/c.bin`]) {
          const at = byName.get(other)!;
          z.copy(z, at + 10, a + 10, a + 28);
          z.copy(z, at + 42, a + 42, a + 46);
        }
      }),
    codes: ['ZipBomb'],
    names: /overlap/,
  },
  {
    name: '100,000 tiny files',
    build: async () => {
      const p = path();
      await writeManyEmptyFilesZip(p, 100_000, (i) => `${H5}/f/${i}.txt`);
      return readFileSync(p);
    },
    codes: ['TooManyEntries'],
    names: /100000 entries/,
  },
  { name: 'duplicate entries', build: () => zipOf([ok(), ok()]), codes: ['DuplicateEntry'], names: /www\/index\.html.*more than once/ },
  {
    name: 'encrypted entry',
    build: () =>
      patched([ok(), ok(`${H5}/secret.txt`)], (z) => {
        const at = centralByName(z).get(`${H5}/secret.txt`)!;
        z.writeUInt16LE(z.readUInt16LE(at + 8) | 1, at + 8);
      }),
    codes: ['EncryptedEntry'],
    names: /secret\.txt.*encrypted/,
  },
  { name: 'not a zip (PNG renamed .zip)', build: async () => Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), randomBytes(5000)]), codes: ['NotAZip'], names: /not a zip/ },
  { name: 'not a zip (text renamed .zip)', build: async () => Buffer.from('this is a plain text file, renamed to .zip\n'.repeat(50)), codes: ['NotAZip'], names: /not a zip/ },
  {
    name: 'truncated zip',
    build: async () => {
      const full = await zipOf([ok(), { name: `${H5}/www/a.bin`, data: randomBytes(40_000) }]);
      return full.subarray(0, Math.floor(full.length / 2));
    },
    codes: ['TruncatedZip'],
    names: /damaged|truncated|missing/,
  },
];

async function counts() {
  const k = srv.node.deps.db.knex;
  const one = async (t: string) => Number(((await k(t).count({ n: '*' })) as Array<{ n: unknown }>)[0]!.n);
  return { resources: await one('nebula_resources'), blobs: await one('blobs') };
}

/** Runs fn while sampling this process's RSS (the server runs in it) every few milliseconds. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; rssGrowth: number; peakGrowth: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, rssGrowth: process.memoryUsage().rss - before, peakGrowth: peak - before };
  } finally {
    clearInterval(timer);
  }
}

const MB = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;

describe('hostile archives through GetMcubeFileToken, upload and CreateMcubeNebulaResource', () => {
  for (const [i, a] of ARCHIVES.entries()) {
    it(`${a.name}: refused as ${a.codes.join(' or ')}, nothing stored`, async () => {
      const zip = await a.build();
      const fileUrl = await uploadFile(call, `${H5}.zip`, zip);
      const before = await counts();
      fig.add('inputsTried');
      const run = measured(() =>
        Promise.race([
          call('CreateMcubeNebulaResource', {
            H5Id: H5, H5Name: 'hostile', H5Version: `9.0.${i}`, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
            FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
          }),
          new Promise((_r, reject) => setTimeout(() => reject(Object.assign(new Error('no answer'), { hang: true })), CALL_BOUND_MS)),
        ]),
      );
      let body: any;
      try {
        const m = await run;
        body = m.value;
        memory[a.name] = { rssGrowthMB: MB(m.rssGrowth), peakGrowthMB: MB(m.peakGrowth), zipBytes: zip.length };
      } catch (err) {
        if ((err as { hang?: boolean }).hang) fig.add('hangs');
        else fig.add('crashes'); // the vendor client throws on 4xx/5xx; a package refusal is a 200
        throw err;
      }
      const after = await counts();
      const pkgObjects = await listKeys(srv.node.deps.blobs, 'pkg/');
      const work = srv.node.deps.config.packages.workDir;
      const workLeft = existsSync(work) ? readdirSync(work) : [];
      if (after.resources !== before.resources) fig.add('forgedOrForeignAccepted');
      fig.add('orphansLeft', pkgObjects.length + (after.blobs - before.blobs) + workLeft.length);
      if (!a.codes.includes(body.ResultCode)) fig.check('wrongCode', 1);
      else if (!a.names.test(body.ResultMessage)) fig.check('messageDoesNotNameProblem', 1);

      expect(a.codes, JSON.stringify(body)).toContain(body.ResultCode);
      expect(body.CreateMcubeNebulaResourceReslult).toMatchObject({ Success: false, ErrorCode: body.ResultCode });
      expect(body.ResultMessage).toMatch(a.names);
      expect(after).toEqual(before);
      expect(pkgObjects).toEqual([]);
      expect(workLeft).toEqual([]);
    }, CALL_BOUND_MS + 60_000);
  }

  it('the same server still accepts a well-formed package afterwards (the refusals were for the archives alone)', async () => {
    const zip = await zipOf([ok(), ok(`${H5}/www/app.js`)]);
    const fileUrl = await uploadFile(call, `${H5}.zip`, zip);
    const body = await call('CreateMcubeNebulaResource', {
      H5Id: H5, H5Name: 'hostile', H5Version: '1.0.0.0', ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
      FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true,
    });
    expect(body.ResultCode, JSON.stringify(body)).toBe('OK');
    expect((await listKeys(srv.node.deps.blobs, 'pkg/')).length).toBe(2);
  });

  it('no error-level log lines; figures: zero in every column but inputs tried', () => {
    const errors = srv.logs.filter((l) => /"level":"error"/.test(l));
    fig.add('crashes', errors.length);
    expect(errors).toEqual([]);
    fig.expectClean();
  });
});
