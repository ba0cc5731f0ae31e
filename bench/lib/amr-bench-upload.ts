// Writes the bench upload (child process of bench/amr-build.ts, so that the 100 MB of
// generated data never inflates the parent, whose RSS a forked child would inherit
// in its maxRSS): N random files of 0.2x..1.8x the mean size under 12345678/www/.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';

const [zipPath, files, totalMb] = [process.argv[2]!, Number(process.argv[3]), Number(process.argv[4])];
const yazl = createRequire(new URL('../../packages/server/package.json', import.meta.url))('yazl') as {
  ZipFile: new () => { addBuffer(b: Buffer, n: string): void; end(): void; outputStream: NodeJS.ReadableStream };
};
const mean = Math.round((totalMb * 1024 * 1024) / files);
const zip = new yazl.ZipFile();
const written = pipeline(zip.outputStream, createWriteStream(zipPath));
for (let i = 0; i < files; i++) {
  const size = Math.round(mean * (0.2 + (1.6 * ((i * 7919) % files)) / files));
  zip.addBuffer(randomBytes(size), `12345678/www/d${i % 100}/f${i}.bin`);
}
zip.end();
await written;
