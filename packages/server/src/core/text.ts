/**
 * C0 control characters and DEL. Identifiers, names and nonces holding them
 * are refused the same on both databases (PostgreSQL text cannot hold a NUL).
 */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
