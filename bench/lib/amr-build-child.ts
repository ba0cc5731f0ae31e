// Child process of bench/amr-build.ts: runs one buildAmr and prints its wall time and
// peak RSS as JSON, so the figures belong to the build alone.
import { existsSync, readFileSync } from 'node:fs';
import { buildAmr, parseRsaPrivateKey } from '../../packages/server/src/features/packages/index.js';

const args = JSON.parse(process.argv[2]!) as { zipPath: string; keyPath: string; workDir: string };
const key = parseRsaPrivateKey(readFileSync(args.keyPath, 'utf8'));
const started = performance.now();
const result = await buildAmr({
  zipPath: args.zipPath,
  h5Id: '12345678',
  version: '1.0.0.0',
  resourceType: 1,
  appId: 'ALIPUB0000001',
  workspaceId: 'default',
  privateKey: key.privateKey,
  limits: { maxEntries: 20000, maxTotalBytes: 1024 * 1024 * 1024, maxRatio: 200 },
  workDir: args.workDir,
});
const ms = performance.now() - started;
// VmHWM: the peak of this process image alone (Linux); maxRSS may include the parent's pages at fork.
const hwm = /VmHWM:\s+(\d+) kB/.exec(existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '');
const out = { ms, maxRssKb: process.resourceUsage().maxRSS, hwmKb: hwm ? Number(hwm[1]) : null, size: result.size, md5: result.md5, entries: result.entries.length };
await result.cleanup();
process.stdout.write(`${JSON.stringify(out)}\n`);
