// Writes src/generated/actions.ts from openapi/mcube-openapi.json (run after openapi-typescript, see package.json "gen").
import { readFileSync, writeFileSync } from 'node:fs';
import { renderActions } from './render-actions.js';
import { ACTIONS_FILE, OPENAPI_FILE } from './paths.js';

writeFileSync(ACTIONS_FILE, renderActions(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8'))));
console.log(`wrote ${ACTIONS_FILE}`);
