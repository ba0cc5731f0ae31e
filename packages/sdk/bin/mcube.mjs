#!/usr/bin/env node
// Runs the built CLI (dist/cli.js) when there is one; in the workspace, without a build,
// runs the TypeScript source through tsx. MCUBE_CLI_FROM_SOURCE=1 forces the source.
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli.js', import.meta.url);
if (existsSync(dist) && process.env.MCUBE_CLI_FROM_SOURCE !== '1') {
  await import(dist.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write('mcube: dist/cli.js is missing and tsx is not installed; run "pnpm --filter @mcube/sdk build" first\n');
    process.exit(1);
  }
  register();
  await import(new URL('../src/cli.ts', import.meta.url).href);
}
