// vitest global setup: builds the server once per run, so every test that
// starts a server process runs the JavaScript that production runs.
import { buildServer } from '../../packages/server/scripts/build.mjs';

export default async function setup(): Promise<void> {
  await buildServer();
}
