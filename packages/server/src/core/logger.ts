export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Structured JSON lines. Callers never pass secrets; redacting secret-looking field names is a second line of defence. */
/** Coalesces the lines written in one tick into one write (a request log line each would be a syscall each). */
function stdoutSink(): (line: string) => void {
  let buf: string[] = [];
  const flush = () => {
    const text = buf.join('');
    buf = [];
    process.stdout.write(text);
  };
  process.once('exit', () => buf.length && process.stdout.write(buf.join('')));
  return (line) => {
    if (buf.push(line + '\n') === 1) setImmediate(flush);
  };
}

export function createLogger(level: Level | 'silent', sink: (line: string) => void = stdoutSink()): Logger {
  const min = order[level];
  const log = (lv: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[lv] < min) return;
    const line: Record<string, unknown> = { time: new Date().toISOString(), level: lv, msg };
    if (fields) for (const k in fields) line[k] = isSecretName(k) ? '[redacted]' : fields[k];
    sink(JSON.stringify(line));
  };
  return {
    log,
    info: (m, f) => log('info', m, f),
    warn: (m, f) => log('warn', m, f),
    error: (m, f) => log('error', m, f),
  };
}

const SECRET_KEYS = /secret|signature|authorization|password|private|policy|token/i;

// field names repeat on every line; remember the verdict per name (bounded: names come from code)
const secretName = new Map<string, boolean>();
function isSecretName(k: string): boolean {
  let v = secretName.get(k);
  if (v === undefined) {
    v = SECRET_KEYS.test(k);
    if (secretName.size < 1000) secretName.set(k, v);
  }
  return v;
}
