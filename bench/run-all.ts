// Runs every benchmark in turn and lets each print its own figures.
// Usage: npm run bench   (DATABASE_URL=postgres://... adds the PostgreSQL runs where a bench supports them)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const here = import.meta.dirname;
let failed = 0;
for (const bench of ['auth.ts', 'amr-build.ts', 'delivery.ts', 'admissions.ts']) {
  console.log(`\n### bench/${bench}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, bench)], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
