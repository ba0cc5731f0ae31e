import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCheck, queryOf } from '../helpers/device-client.js';
import { createTask, mcube, publishFixture } from '../helpers/nebula.js';
import { startS3rver, type RunningS3rver } from '../helpers/s3rver.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { checkInvariant, janitorAt, listAll } from '../ops/janitor/blob-invariant.js';

/**
 * The unpacked copy of a normal package that devices load pages from while the
 * package is not installed (fallback_base_url, offline-package-format.md §2.4):
 * published under <version>_<platform>/nebula/fallback/ next to the .amr when a
 * download base gives every file one address.
 */

const FILES: Record<string, string | Buffer> = {
  'www/index.html': '<!DOCTYPE html><html><body>fallback</body></html>',
  'www/js/app.js': 'console.log("from the fallback copy");',
  'www/css/site.css': 'body{color:#333}',
  'www/img/a logo.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]),
  'www/data/big.bin': randomBytes(1536 * 1024), // above the size fallback copies hold in memory: streamed
};
const TYPES: Record<string, string> = {
  'www/index.html': 'text/html',
  'www/js/app.js': 'text/javascript',
  'www/css/site.css': 'text/css',
  'www/img/a logo.png': 'image/png',
  'www/data/big.bin': 'application/octet-stream',
};
const bytes = (v: string | Buffer) => (typeof v === 'string' ? Buffer.from(v) : v);
const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

async function device(srv: TestServer, h5Id: string) {
  const r = await deviceCheck(srv.url, { platform: 'android', client: '1.0.0', userId: 'u-fallback', query: queryOf({ [h5Id]: '' }) }, { clientKey: srv.creds.clientKey });
  expect(r.status).toBe(200);
  return r.body.data.find((d: { app_id: string }) => d.app_id === h5Id);
}

/** polls the device answer until the new release shows (snapshots follow the change stamp) */
async function released(srv: TestServer, h5Id: string, version: string) {
  const end = Date.now() + 10_000;
  for (;;) {
    const entry = await device(srv, h5Id);
    if (entry?.version === version || Date.now() > end) return entry;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('s3 driver with a public download base', () => {
  let s3: RunningS3rver;
  let srv: TestServer;
  let base: string;
  beforeAll(async () => {
    s3 = await startS3rver();
    // s3rver answers unsigned GETs, as a public-read bucket or a CDN in front of one does
    base = `${s3.endpoint}/${s3.bucket}`;
    srv = await startTestServer({ ...s3.env, MCUBE_DOWNLOAD_BASE_URL: base, MCUBE_STAMP_POLL_MS: '50', MCUBE_DEVICE_RATE_PER_MIN: '0' });
  });
  afterAll(async () => {
    await srv?.close();
    await s3?.close();
  });

  it('stores every file of a normal package unpacked, with its content type, and points fallback_base_url at it everywhere', async () => {
    const p = await publishFixture(srv, { h5Id: '61000001', version: '1.0.0.1', files: FILES });
    const { appId, workspaceId } = srv.creds;
    const folder = new RegExp(`^${base}/pkg/${appId}/${workspaceId}/61000001/[0-9a-f]{12}/1\\.0\\.0\\.1_all/nebula/fallback/$`);

    const [intranet, internet, ...rest] = String(p.info.FallbackBaseUrl).split(';');
    expect(rest).toEqual([]);
    expect(intranet).toMatch(folder);
    expect(internet).toBe(intranet);
    const fallback = intranet!;

    // the same address in the package's h5.json ...
    const h5json = (await (await fetch(p.info.Memo)).json()) as { data: Array<{ fallback_base_url: string }> };
    expect(h5json.data[0]!.fallback_base_url).toBe(fallback);
    // ... in the device answer ...
    await createTask(p.call, p.resourceId);
    const entry = await released(srv, '61000001', '1.0.0.1');
    expect(entry.fallback_base_url).toBe(fallback);
    // ... and in the list
    const list = await p.call('ListMcubeNebulaResources', { H5Id: '61000001' });
    expect(list.ListMcubeNebulaResourceResult.NebulaResourceInfo[0].FallbackBaseUrl).toBe(`${fallback};${fallback}`);

    // a device that cannot load <vhost><path> from the package loads <fallback_base_url><path>
    for (const [path, data] of Object.entries(FILES)) {
      const res = await fetch(fallback + encodePath(path));
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.headers.get('content-type'), path).toBe(TYPES[path]);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes(data)), path).toBe(true);
    }
    // only the package's own files: not the generated hpmfile.json
    const stored = await listAll(srv, new URL(fallback).pathname.slice(`/${s3.bucket}/`.length));
    expect(stored.map((k) => k.slice(k.indexOf('/fallback/') + '/fallback/'.length)).sort()).toEqual(Object.keys(FILES).sort());
  });

  it('a global package gets none (the vendor leaves it empty), and devices get the entry of its h5.json, sample file URL included', async () => {
    const files = { [`h5app.com/${srv.creds.appId}_${srv.creds.workspaceId}/appicon.png`]: Buffer.from([1, 2, 3]) };
    const p = await publishFixture(srv, { h5Id: '61000002', resourceType: 0, files });
    expect(p.info.FallbackBaseUrl).toBe('');
    expect((await listAll(srv, `pkg/${srv.creds.appId}/${srv.creds.workspaceId}/61000002/`)).filter((k) => k.includes('/fallback/'))).toEqual([]);
    const h5json = (await (await fetch(p.info.Memo)).json()) as { data: Array<Record<string, unknown>> };
    expect(h5json.data[0]!.global_pack_url).toBe(`https://h5app.com/${srv.creds.appId}_${srv.creds.workspaceId}/appicon.png`);
    await createTask(p.call, p.resourceId);
    // the answer adds the .amr's md5 and size
    expect(await released(srv, '61000002', '1.0.0.0')).toEqual({ ...h5json.data[0], md5: expect.stringMatching(/^[0-9a-f]{32}$/), size: expect.any(Number) });
  });

  it('the janitor keeps a live copy, and removes files under a fallback folder no package owns', async () => {
    const p = await publishFixture(srv, { h5Id: '61000003', files: FILES });
    const prefix = `pkg/${srv.creds.appId}/${srv.creds.workspaceId}/61000003/`;
    const live = await listAll(srv, prefix);
    expect(live.filter((k) => k.includes('/fallback/'))).toHaveLength(Object.keys(FILES).length);
    // an orphaned copy: what a node that died while publishing, with its reservation row lost, leaves
    const strayFolder = `${prefix}abcdefabcdef/9.9_all/nebula/fallback/`;
    const stray = ['www/index.html', 'www/js/app.js', 'www/css/site.css'].map((f) => strayFolder + f);
    for (const k of stray) await srv.node.deps.blobs.put(k, Buffer.from('stray'));
    // removed as one folder (one claim, one batch of deletes), not object by object
    const blobs = srv.node.deps.blobs;
    const deleteMany = blobs.deleteMany.bind(blobs);
    const batches: string[][] = [];
    blobs.deleteMany = async (keys) => {
      batches.push([...keys]);
      return deleteMany(keys);
    };
    try {
      // objects are old enough to sweep one grace period from now
      const report = await janitorAt(srv, 2000, 1);
      expect(report.orphansSwept).toBe(3);
    } finally {
      blobs.deleteMany = deleteMany;
    }
    expect(batches.map((b) => b.sort())).toEqual([stray.sort()]);
    expect(await listAll(srv, prefix)).toEqual(live);
    expect(await srv.node.deps.db.knex('blobs').where('key', 'like', `${strayFolder}%`).select('key')).toEqual([]);
    expect(p.info.FallbackBaseUrl).not.toBe('');
  });

  it('deleting the H5 app removes its fallback copy with its packages', async () => {
    await publishFixture(srv, { h5Id: '61000004', files: FILES });
    await publishFixture(srv, { h5Id: '61000004', version: '1.0.0.2', files: FILES });
    const prefix = `pkg/${srv.creds.appId}/${srv.creds.workspaceId}/61000004/`;
    expect((await listAll(srv, prefix)).filter((k) => k.includes('/fallback/'))).toHaveLength(2 * Object.keys(FILES).length);
    const del = await mcube(srv)('DeleteMcubeNebulaApp', { H5Id: '61000004' });
    expect(del.ResultCode).toBe('OK');
    expect(await listAll(srv, prefix)).toEqual([]);
    const rows = await srv.node.deps.db.knex('blobs').where('key', 'like', `${prefix}%`).select('key');
    expect(rows).toEqual([]);
  });

  it('a publish that loses the race for its version leaves no copy behind', async () => {
    const prefix = `pkg/${srv.creds.appId}/${srv.creds.workspaceId}/61000005/`;
    await publishFixture(srv, { h5Id: '61000005', version: '0.9', files: FILES });
    const outcomes = await Promise.allSettled([
      publishFixture(srv, { h5Id: '61000005', version: '1.0', files: FILES, createApp: false }),
      publishFixture(srv, { h5Id: '61000005', version: '1.0', files: { ...FILES, 'www/other.html': 'x' }, createApp: false }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const { knex } = srv.node.deps.db;
    const rows = await knex('nebula_resources').where({ h5_id: '61000005' }).select('amr_key', 'json_key', 'fallback_key');
    expect(rows).toHaveLength(2);
    const owned = (k: string) => rows.some((r) => k === r.amr_key || k === r.json_key || k.startsWith(r.fallback_key));
    expect((await listAll(srv, prefix)).filter((k) => !owned(k))).toEqual([]);
    const keys = (await knex('blobs').where('key', 'like', `${prefix}%`).pluck('key')) as string[];
    expect(keys.sort()).toEqual(rows.flatMap((r) => [r.amr_key, r.json_key, r.fallback_key]).sort());
    // and across this server: every registry row is referenced and stored, every stored package object is owned
    await checkInvariant(srv);
  });
});

describe('local driver', () => {
  it('without a download base there is no address every file sits under: no copy, fallback_base_url empty', async () => {
    const srv = await startTestServer();
    try {
      const p = await publishFixture(srv, { h5Id: '62000001', files: FILES });
      expect(p.info.FallbackBaseUrl).toBe('');
      expect(((await (await fetch(p.info.Memo)).json()) as { data: Array<{ fallback_base_url: string }> }).data[0]!.fallback_base_url).toBe('');
      expect((await listAll(srv, 'pkg/')).filter((k) => k.includes('/fallback/'))).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it('with a download base (a web server over the data folder) the copy is written there, and MCUBE_PACKAGE_FALLBACK=off turns it off', async () => {
    const cdn = 'https://cdn.example.com/mds';
    const srv = await startTestServer({ MCUBE_DOWNLOAD_BASE_URL: cdn });
    const off = await startTestServer({ MCUBE_DOWNLOAD_BASE_URL: cdn, MCUBE_PACKAGE_FALLBACK: 'off' });
    try {
      const p = await publishFixture(srv, { h5Id: '62000002', files: FILES });
      const [fallback] = String(p.info.FallbackBaseUrl).split(';');
      expect(fallback).toMatch(new RegExp(`^${cdn}/pkg/.+/nebula/fallback/$`));
      const folder = decodeURIComponent(fallback!.slice(cdn.length + 1));
      const root = join(srv.node.deps.config.dataDir, 'blobs', srv.node.deps.config.storage.bucket);
      for (const [path, data] of Object.entries(FILES)) {
        const file = join(root, folder, path);
        expect(existsSync(file), path).toBe(true);
        expect(readFileSync(file).equals(bytes(data)), path).toBe(true);
      }

      const q = await publishFixture(off, { h5Id: '62000003', files: FILES });
      expect(q.info.FallbackBaseUrl).toBe('');
      expect((await listAll(off, 'pkg/')).filter((k) => k.includes('/fallback/'))).toEqual([]);
    } finally {
      await srv.close();
      await off.close();
    }
  });

  it('a copy that fails midway is removed whole, also the files still being written when it failed', async () => {
    const srv = await startTestServer({ MCUBE_DOWNLOAD_BASE_URL: 'https://cdn.example.com/mds' });
    try {
      const blobs = srv.node.deps.blobs;
      const put = blobs.put.bind(blobs);
      // the first two files are slow to store; then a small file fails at once, or (second package) a streamed one
      blobs.put = async (key, body, opts) => {
        if (/\/fallback\/www\/[ab]\.txt$/.test(key)) await new Promise((r) => setTimeout(r, 300));
        if (/\/fallback\/www\/(c\.txt|big\.bin)$/.test(key)) throw new Error('storage refused the write');
        return put(key, body, opts);
      };
      const small = { 'www/index.html': 'i', 'www/a.txt': 'a', 'www/b.txt': 'b', 'www/c.txt': 'c', 'www/d.txt': 'd', 'www/e.txt': 'e' };
      await expect(publishFixture(srv, { h5Id: '62000004', files: small })).rejects.toThrow(/InternalError|500/);
      const streamed = { 'www/index.html': 'i', 'www/a.txt': 'a', 'www/b.txt': 'b', 'www/big.bin': randomBytes(1100 * 1024), 'www/d.txt': 'd' };
      await expect(publishFixture(srv, { h5Id: '62000005', files: streamed })).rejects.toThrow(/InternalError|500/);
      await new Promise((r) => setTimeout(r, 500));
      expect(await listAll(srv, 'pkg/')).toEqual([]);
      expect(await srv.node.deps.db.knex('blobs').where('key', 'like', 'pkg/%').select('key', 'state')).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it("an uploaded hpmfile.json is one of the package's files and is in the copy; the one generated for a package without it is not", async () => {
    const srv = await startTestServer({ MCUBE_DOWNLOAD_BASE_URL: 'https://cdn.example.com/mds' });
    try {
      const own = JSON.stringify({ appId: '62000006', version: '1.0.0.0', custom: true });
      const copied = async (h5Id: string, files: Record<string, string>) => {
        const p = await publishFixture(srv, { h5Id, files });
        const folder = decodeURIComponent(String(p.info.FallbackBaseUrl).split(';')[0]!.slice('https://cdn.example.com/mds/'.length));
        const keys = await listAll(srv, folder);
        return new Map(await Promise.all(keys.map(async (k) => [k.slice(folder.length), readFileSync(join(srv.node.deps.config.dataDir, 'blobs', srv.node.deps.config.storage.bucket, k), 'utf8')] as const)));
      };
      const withOwn = await copied('62000006', { 'www/index.html': 'i', 'hpmfile.json': own });
      expect([...withOwn.keys()].sort()).toEqual(['hpmfile.json', 'www/index.html']);
      expect(withOwn.get('hpmfile.json')).toBe(own);
      expect([...(await copied('62000007', { 'www/index.html': 'i' })).keys()]).toEqual(['www/index.html']);
    } finally {
      await srv.close();
    }
  });
});
