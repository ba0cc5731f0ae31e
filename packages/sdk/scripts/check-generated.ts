// Regenerates src/generated/* into a temporary folder and exits 1 when the committed files differ.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { renderActions } from './render-actions.js';
import { ACTIONS_FILE, OPENAPI_FILE, SDK_DIR, TYPES_FILE } from './paths.js';

const read = (f: string) => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return null;
  }
};

const tmp = mkdtempSync(join(tmpdir(), 'mcube-sdk-gen-'));
const stale: string[] = [];
try {
  // the package exports only its library entry (dist/index.*); the CLI sits beside it
  const cli = join(dirname(dirname(createRequire(join(SDK_DIR, 'package.json')).resolve('openapi-typescript'))), 'bin', 'cli.js');
  const typesOut = join(tmp, 'openapi.ts');
  execFileSync(process.execPath, [cli, OPENAPI_FILE, '-o', typesOut], { cwd: SDK_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
  if (read(TYPES_FILE) !== read(typesOut)) stale.push('src/generated/openapi.ts');
  if (read(ACTIONS_FILE) !== renderActions(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')))) stale.push('src/generated/actions.ts');
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (stale.length) {
  console.error(
    `@mcube/sdk: ${stale.join(' and ')} ${stale.length > 1 ? 'are' : 'is'} out of date with openapi/mcube-openapi.json.\n` +
      'Run "pnpm gen" at the repository root (or "pnpm --filter @mcube/sdk gen") and commit the result.',
  );
  process.exit(1);
}
console.log('@mcube/sdk generated files match openapi/mcube-openapi.json');
