// Builds an .amr from a ~100 MB upload of 10,000 incompressible files, twice in the
// same run: (a) buildAmr in a child process (wall time and peak RSS of that child),
// (b) the system tools doing the same repack: unzip to a folder, GNU tar of the
// folder, openssl SHA1withRSA signature of the tar, zip of Manifest.xml/CERT.json/tar.
// Prints a table and the ratios against the targets (time <= 2x the tools, RSS <= 256 MB).
// Usage: npx tsx bench/amr-build.ts [--files 10000] [--mb 100]
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { certJson, manifestXml } from '../packages/server/src/features/packages/index.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const fileCount = arg('files', 10000);
const totalMb = arg('mb', 100);
const repo = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mcube-amr-bench-'));

try {
  // 1. The upload, written by a child process (see bench/lib/amr-bench-upload.ts).
  const zipPath = join(dir, 'upload.zip');
  const gen = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'bench/lib/amr-bench-upload.ts'), zipPath, String(fileCount), String(totalMb)], {
    cwd: repo,
    encoding: 'utf8',
  });
  if (gen.status !== 0) throw new Error(`upload generation failed: ${gen.stderr}`);
  const zipBytes = statSync(zipPath).size;
  const keyPath = join(dir, 'key.pem');
  writeFileSync(keyPath, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }));
  console.log(`upload: ${fileCount} files, ${(zipBytes / 1048576).toFixed(1)} MiB zip`);

  // 2. buildAmr in a child process.
  const child = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repo, 'bench/lib/amr-build-child.ts'), JSON.stringify({ zipPath, keyPath, workDir: join(dir, 'work') })],
    { cwd: repo, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (child.status !== 0) throw new Error(`child failed: ${child.stderr}`);
  const ours = JSON.parse(child.stdout.trim().split('\n').pop()!) as { ms: number; maxRssKb: number; hwmKb: number | null; size: number; entries: number };

  // 3. The system tools, each under /usr/bin/time -f %M when available.
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
  let peakKb: number | null = timeBin ? 0 : null;
  const run = (cmd: string, args: string[], cwd = dir) => {
    const r = timeBin
      ? spawnSync(timeBin, ['-f', '%M', cmd, ...args], { cwd, encoding: 'utf8' })
      : spawnSync(cmd, args, { cwd, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    if (timeBin) peakKb = Math.max(peakKb!, Number(r.stderr.trim().split('\n').pop()));
  };
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
  const started = performance.now();
  run('unzip', ['-q', zipPath, '-d', join(dir, 'unzipped')]);
  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  const top = join(dir, 'unzipped', '12345678');
  run('tar', ['--format=gnu', '--owner=admin:500', '--group=admin:500', '-cf', join(pkg, '12345678.tar'), '-C', top, ...readdirSync(top)]);
  writeFileSync(join(pkg, 'Manifest.xml'), manifestXml('12345678', '1.0.0.0'));
  if (hasOpenssl) run('openssl', ['dgst', '-sha1', '-sign', keyPath, '-out', join(dir, 'tar.sig'), join(pkg, '12345678.tar')]);
  writeFileSync(join(pkg, 'CERT.json'), certJson('12345678', '', ''));
  run('zip', ['-q', join(dir, 'tools.amr'), 'Manifest.xml', 'CERT.json', '12345678.tar'], pkg);
  const toolsMs = performance.now() - started;
  const toolsAmr = statSync(join(dir, 'tools.amr')).size;

  const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
  const rows = [
    ['', 'wall time', 'peak RSS', '.amr size'],
    ['buildAmr (child)', `${(ours.ms / 1000).toFixed(2)} s`, mb(ours.maxRssKb), `${(ours.size / 1048576).toFixed(1)} MiB`],
    [
      `unzip+tar+${hasOpenssl ? 'openssl+' : ''}zip`,
      `${(toolsMs / 1000).toFixed(2)} s`,
      peakKb === null ? 'n/a' : mb(peakKb),
      `${(toolsAmr / 1048576).toFixed(1)} MiB`,
    ],
  ];
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(24) : c.padStart(12))).join(''));
  const timeRatio = ours.ms / toolsMs;
  console.log(`time ratio buildAmr/tools: ${timeRatio.toFixed(2)} (target <= 2.00) ${timeRatio <= 2 ? 'OK' : 'MISSED'}`);
  console.log(`peak RSS buildAmr: ${mb(ours.maxRssKb)} (target <= 256 MB) ${ours.maxRssKb <= 256 * 1024 ? 'OK' : 'MISSED'}`);
  if (ours.hwmKb !== null) console.log(`  (child VmHWM ${mb(ours.hwmKb)}; maxRSS also counts the parent's pages at fork, so the parent is kept small)`);
  console.log(`tar entries: ${ours.entries}; node ${process.version}; ${execFileSync('tar', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
