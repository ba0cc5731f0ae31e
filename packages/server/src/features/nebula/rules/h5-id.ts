import { invalid, isBlank, shown } from './field-error.js';

/** Offline-package ids built into the Nebula SDK (guide §5.3): using them clashes with the SDK's own packages. */
export const RESERVED_H5_IDS: ReadonlySet<string> = new Set(['20000196', '66666692', '68687029', '68687209']);
/** Prefixes the guide recommends against; accepted with a warning. */
export const DISCOURAGED_H5_ID_PREFIXES = ['666666', '20000'] as const;

export interface CheckedH5Id {
  h5Id: string;
  /** set when the id is accepted but discouraged by the guide */
  warning: string | null;
}

export function checkH5Id(raw: string | undefined): CheckedH5Id {
  if (isBlank(raw)) throw invalid('H5Id', 'is required (the 8-digit offline package id).');
  const h5Id = raw!.trim();
  if (!/^\d{8}$/.test(h5Id)) throw invalid('H5Id', `${shown(raw)} must be exactly 8 digits.`);
  if (RESERVED_H5_IDS.has(h5Id)) {
    throw invalid('H5Id', `${h5Id} is reserved: 20000196, 66666692, 68687029 and 68687209 are offline package ids built into the SDK.`);
  }
  const prefix = DISCOURAGED_H5_ID_PREFIXES.find((p) => h5Id.startsWith(p));
  const warning = prefix
    ? `Warning: H5Id ${h5Id} starts with ${prefix}; the guide recommends against ids starting with 666666 or 20000 (they may clash with built-in packages).`
    : null;
  return { h5Id, warning };
}

/** A mini program's id: 16 digits (the console's rule); ids starting 666 or 20000 are accepted with a warning, as the console advises against them. */
export function checkMiniId(raw: string | undefined): CheckedH5Id {
  if (isBlank(raw)) throw invalid('H5Id', 'is required (the 16-digit mini program id).');
  const h5Id = raw!.trim();
  if (!/^\d{16}$/.test(h5Id)) throw invalid('H5Id', `${shown(raw)} must be exactly 16 digits (a mini program id).`);
  const prefix = ['666', '20000'].find((p) => h5Id.startsWith(p));
  const warning = prefix ? `Warning: H5Id ${h5Id} starts with ${prefix}; the console recommends against mini program ids starting with 666 or 20000.` : null;
  return { h5Id, warning };
}
