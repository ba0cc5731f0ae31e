/**
 * Runs `job` and counts the event-loop iterations it lets pass meanwhile: an
 * immediate re-queued from the check phase runs once per iteration, so it
 * stands for the requests waiting on the node. better-sqlite3 answers
 * synchronously, so a job that never hands the loop back lets none pass.
 * (Counted with immediates, not 1 ms timers, so the count does not depend on
 * how fast the machine is.)
 */
export async function turnsDuring<T>(job: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let done = false;
  let turns = 0;
  const running = job().finally(() => {
    done = true;
  });
  while (!done) {
    await new Promise((r) => setImmediate(r));
    if (!done) turns++;
  }
  return { value: await running, turns };
}
