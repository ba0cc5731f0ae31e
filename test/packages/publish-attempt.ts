import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { mcube, uploadFile, type Call } from '../helpers/nebula.js';
import { readZip } from './zip-fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { listKeys } from '../reliability/lib/db-state.js';

export const H5 = '12345678';

export interface Ctx {
  srv: TestServer;
  call: Call;
  ver: number;
}

export async function start(overrides: Record<string, string> = {}): Promise<Ctx> {
  const srv = await startTestServer({ MCUBE_JANITOR_INTERVAL_SEC: '0', ...overrides });
  const call = mcube(srv);
  await call('CreateMcubeVhost', { Vhost: 'h5app.com' });
  await call('CreateMcubeNebulaApp', { H5Id: H5, H5Name: 'audit' });
  return { srv, call, ver: 0 };
}

/**
 * One upload through the real actions (GetMcubeFileToken, the upload form,
 * CreateMcubeNebulaResource) and what it left: the answer, new files in the
 * data folder, new package rows; for an accepted package, its tar as GNU tar
 * lists and extracts it (what a client unpacking it to disk would get).
 */

/** every file below dir (relative), excluding the sqlite db files */
export function walk(dir: string): string[] {
  const out: string[] = [];
  const rec = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) rec(p);
      else out.push(relative(dir, p));
    }
  };
  try {
    rec(dir);
  } catch {
    /* */
  }
  return out.filter((p) => !/\.(sqlite|db)(-wal|-shm|-journal)?$/.test(p)).sort();
}

export interface Attempt {
  body: any;
  ok: boolean;
  code: string;
  message: string;
  /** files added in the data dir (non-db) */
  newFiles: string[];
  resourcesDelta: number;
  /** for accepted packages: the extracted tar tree as path -> content (dirs end with /) */
  tree?: Record<string, string>;
  tarList?: string[];
  tarPath?: string;
  info?: any;
}

export async function attempt(ctx: Ctx, zipBytes: Buffer, extra: Record<string, unknown> = {}, h5 = H5): Promise<Attempt> {
  const fileUrl = await uploadFile(ctx.call, `${h5}.zip`, zipBytes);
  const before = new Set(walk(ctx.srv.env.dataDir));
  const rBefore = await ctx.srv.node.deps.db.knex('nebula_resources').count({ n: '*' });
  const version = `1.0.0.${++ctx.ver}`;
  const body = await ctx.call('CreateMcubeNebulaResource', {
    H5Id: h5, H5Name: 'audit', H5Version: version, ResourceType: 1, Platform: 'all', ClientVersionMin: '1.0.0;1.0.0', ClientVersionMax: '',
    FileUrl: fileUrl, MainUrl: '/www/index.html', AutoInstall: 1, InstallType: 1, OnexFlag: true, ...extra,
  });
  const rAfter = await ctx.srv.node.deps.db.knex('nebula_resources').count({ n: '*' });
  const after = walk(ctx.srv.env.dataDir);
  const ok = body.ResultCode === 'OK';
  const res: Attempt = {
    body,
    ok,
    code: body.ResultCode,
    message: body.ResultMessage,
    newFiles: after.filter((f) => !before.has(f)),
    resourcesDelta: Number((rAfter[0] as any).n) - Number((rBefore[0] as any).n),
  };
  if (ok) {
    const id = body.CreateMcubeNebulaResourceReslult.NebulaResourceId;
    const info = (await ctx.call('GetMcubeNebulaResource', { Id: String(id) })).GetNebulaResourceResult.NebulaResourceInfo;
    res.info = info;
    const amr = Buffer.from(await (await fetch(info.DownloadUrl)).arrayBuffer());
    const d = mkdtempSync(join(tmpdir(), 'mcube-hostile-amr-'));
    writeFileSync(join(d, 'p.amr'), amr);
    const tarPath = join(d, `${h5}.tar`);
    writeFileSync(tarPath, (await readZip(join(d, 'p.amr'))).find((e) => e.name === `${h5}.tar`)!.data);
    res.tarPath = tarPath;
    res.tarList = execFileSync('tar', ['-tf', tarPath], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const x = join(d, 'x');
    execFileSync('mkdir', ['-p', x]);
    execFileSync('tar', ['-xf', tarPath, '-C', x]);
    const tree: Record<string, string> = {};
    const rec = (p: string) => {
      for (const n of readdirSync(p)) {
        const q = join(p, n);
        if (statSync(q).isDirectory()) {
          tree[relative(x, q) + '/'] = '';
          rec(q);
        } else tree[relative(x, q)] = readFileSync(q, 'latin1');
      }
    };
    rec(x);
    res.tree = tree;
  }
  return res;
}

export async function pkgKeys(ctx: Ctx): Promise<string[]> {
  return listKeys(ctx.srv.node.deps.blobs, 'pkg/');
}
