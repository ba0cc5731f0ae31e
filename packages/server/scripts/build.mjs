#!/usr/bin/env node
// Builds what production runs: the server and its admin command as plain
// JavaScript in packages/server/dist (one ES module each, dependencies left to
// node_modules), so a node runs without a TypeScript loader. Under tsx a node
// carries a second V8 isolate for the loader hooks (about 35 MB more RSS) and
// transpiles every module at each start.
// Usage: node packages/server/scripts/build.mjs   (from anywhere; well under a second)
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_DIST = join(pkg, 'dist');

export async function buildServer() {
  // Built beside dist, then each file renamed into place: a node starting
  // while another build runs reads whole files, old or new.
  const tmp = mkdtempSync(join(pkg, '.dist-'));
  try {
    await build({
      entryPoints: { main: join(pkg, 'src/main.ts'), admin: join(pkg, 'src/admin/cli.ts') },
      outdir: tmp,
      bundle: true,
      // express, knex, the AWS SDK, the drivers: resolved from node_modules at run time
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outExtension: { '.js': '.mjs' },
      // with node --enable-source-maps, stack traces in logs name the TypeScript sources
      sourcemap: 'linked',
      logLevel: 'warning',
    });
    mkdirSync(SERVER_DIST, { recursive: true });
    for (const f of readdirSync(tmp)) renameSync(join(tmp, f), join(SERVER_DIST, f));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return SERVER_DIST;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildServer();
  if (!process.argv.includes('--quiet')) process.stderr.write(`built ${join(SERVER_DIST, 'main.mjs')} and ${join(SERVER_DIST, 'admin.mjs')}\n`);
}
