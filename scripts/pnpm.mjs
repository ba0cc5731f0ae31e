#!/usr/bin/env node
// Runs the pinned pnpm through npx, so a fresh machine needs only Node and npm.
// (corepack refuses the registry metadata here unless the hash is pinned too.)
import { spawnSync } from 'node:child_process';
const PNPM = 'pnpm@10.34.8';
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
const r = spawnSync(npx, ['-y', PNPM, ...process.argv.slice(2)], { stdio: 'inherit', env: process.env });
process.exit(r.status ?? 1);
