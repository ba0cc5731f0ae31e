import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Deps } from '../../../packages/server/src/core/registry.js';
import { runJanitor } from '../../../packages/server/src/features/janitor/index.js';
import type { TestServer } from '../../helpers/server.js';

export async function referencedKeys(srv: TestServer): Promise<Set<string>> {
  const { knex } = srv.node.deps.db;
  const keys = new Set<string>();
  for (const r of await knex('nebula_resources').select('amr_key', 'json_key', 'fallback_key')) {
    keys.add(r.amr_key);
    keys.add(r.json_key);
    if (r.fallback_key) keys.add(r.fallback_key);
  }
  for (const r of await knex('upgrade_packages').select('file_key', 'icon_key', 'symbol_key')) for (const k of [r.file_key, r.icon_key, r.symbol_key]) if (k) keys.add(k);
  return keys;
}

export async function listAll(srv: TestServer, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of srv.node.deps.blobs.list(prefix)) out.push(o.key);
  return out.sort();
}

/** every referenced key is live and stored; every stored pkg/ object is referenced; no other registry rows */
export async function checkInvariant(srv: TestServer, opts: { strictOrphans?: boolean } = {}): Promise<void> {
  const refs = await referencedKeys(srv);
  const rows = (await srv.node.deps.db.knex('blobs').select('key', 'state')) as Array<{ key: string; state: string }>;
  const state = new Map(rows.map((r) => [r.key, r.state]));
  for (const k of refs) {
    expect({ k, state: state.get(k) }).toEqual({ k, state: 'live' });
    // a folder row (a package's fallback copy) stands for the objects under it
    const stored = k.endsWith('/') ? (await listAll(srv, k)).length > 0 : (await srv.node.deps.blobs.head(k)) !== null;
    expect({ k, stored }).toEqual({ k, stored: true });
  }
  if (opts.strictOrphans ?? true) {
    const stored = await listAll(srv, 'pkg/');
    const folders = [...refs].filter((k) => k.endsWith('/'));
    expect(stored.filter((k) => !refs.has(k) && !folders.some((f) => k.startsWith(f)))).toEqual([]);
    expect(rows.filter((r) => !refs.has(r.key))).toEqual([]);
  }
}

export function janitorAt(srv: TestServer, offsetMs: number, graceSec?: number) {
  const deps = srv.node.deps as Deps;
  return runJanitor({
    ...deps,
    now: () => Date.now() + offsetMs,
    config: { ...deps.config, janitor: { ...deps.config.janitor, ...(graceSec === undefined ? {} : { graceSec }) } },
  });
}

export function workEntries(srv: TestServer): string[] {
  const d = srv.node.deps.config.packages.workDir;
  return existsSync(d) ? readdirSync(d) : [];
}
export function tmpEntries(srv: TestServer): string[] {
  const d = join(srv.node.deps.config.dataDir, 'blobs', '.tmp');
  return existsSync(d) ? readdirSync(d) : [];
}
