/** Where the CLI reads its environment and writes its output (process streams in production, buffers in tests). */
export interface Io {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  cwd: string;
}

export function processIo(): Io {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
}

/** Plain text table, columns padded to their widest cell. */
export function table(head: string[], rows: Array<Array<string | number | undefined>>): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** An upload progress bar on stderr, drawn only when stderr is a terminal. */
export function progressBar(io: Io, label: string): { update(sent: number, total: number | undefined): void; done(): void } {
  if (!io.stderr.isTTY) return { update() {}, done() {} };
  let last = '';
  let drawn = false;
  return {
    update(sent, total) {
      const width = Math.max(10, Math.min(40, (io.stderr.columns ?? 80) - label.length - 30));
      let line: string;
      if (total) {
        const pct = Math.min(100, Math.floor((sent / total) * 100));
        const fill = Math.round((pct / 100) * width);
        line = `${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${String(pct).padStart(3)}% ${humanBytes(sent)}/${humanBytes(total)}`;
      } else {
        line = `${label} ${humanBytes(sent)}`;
      }
      if (line === last) return;
      last = line;
      drawn = true;
      io.stderr.write(`\r${line}\u001b[K`);
    },
    done() {
      if (drawn) io.stderr.write('\n');
      drawn = false;
      last = '';
    },
  };
}
