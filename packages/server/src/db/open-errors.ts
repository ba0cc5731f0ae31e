const UNREACHABLE = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'];

/**
 * One line for a PostgreSQL that cannot be opened (unreachable, unknown host,
 * refused login, no such database), naming DATABASE_URL without its password;
 * null for any other failure.
 */
export function databaseOpenError(databaseUrl: string | null, err: { code?: string; message: string }): string | null {
  if (!databaseUrl || !(UNREACHABLE.includes(err.code ?? '') || /^(28|3D)/.test(err.code ?? ''))) return null;
  return `cannot open PostgreSQL at ${redactUrl(databaseUrl)} (DATABASE_URL): ${err.message}`;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '(unparsable URL)';
  }
}
