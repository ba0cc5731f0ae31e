import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';

export type UploadSource = string | Buffer | Uint8Array | Readable;

export interface OpenedSource {
  /** bytes, when known up front */
  size: number | undefined;
  filename: string | undefined;
  chunks: AsyncIterable<Uint8Array>;
  close(): void;
}

const CHUNK = 64 * 1024;

async function* slices(buf: Uint8Array): AsyncIterable<Uint8Array> {
  for (let i = 0; i < buf.length; i += CHUNK) yield buf.subarray(i, i + CHUNK);
}

/** A path is streamed from disk, never read whole. */
export async function openSource(source: UploadSource, size?: number): Promise<OpenedSource> {
  if (typeof source === 'string') {
    const st = await stat(source);
    if (!st.isFile()) throw new TypeError(`${source} is not a file`);
    const stream = createReadStream(source, { highWaterMark: CHUNK });
    return { size: st.size, filename: basename(source), chunks: stream, close: () => stream.destroy() };
  }
  if (source instanceof Uint8Array) return { size: source.length, filename: undefined, chunks: slices(source), close: () => {} };
  if (source && typeof (source as Readable).pipe === 'function') {
    return { size, filename: undefined, chunks: source as Readable, close: () => (source as Readable).destroy() };
  }
  throw new TypeError('upload source must be a file path, a Buffer or a Readable stream');
}
