import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SDK_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OPENAPI_FILE = join(SDK_DIR, '..', '..', 'openapi', 'mcube-openapi.json');
export const GENERATED_DIR = join(SDK_DIR, 'src', 'generated');
export const TYPES_FILE = join(GENERATED_DIR, 'openapi.ts');
export const ACTIONS_FILE = join(GENERATED_DIR, 'actions.ts');
