// Entry of the `mcube` command (bin/mcube.mjs loads the build of this file, or this file through tsx).
import { runCli } from './cli/main.js';

// Should the run never settle (a promise no event will resolve), the process must not end "successfully".
process.exitCode = 1;
runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
