// Writes openapi/mcube-openapi.json from the action registry; with --check, fails when the committed file drifts.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildRegistry } from '../packages/server/src/actions.js';
import { buildOpenApi } from '../packages/server/src/openapi.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', 'openapi', 'mcube-openapi.json');
const text = JSON.stringify(buildOpenApi(buildRegistry()), null, 2) + '\n';
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {}
  if (current !== text) {
    console.error('openapi/mcube-openapi.json is out of date with the action registry: run "npm run gen" (pnpm gen) and commit.');
    process.exit(1);
  }
  console.log('openapi/mcube-openapi.json matches the registry');
} else {
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
