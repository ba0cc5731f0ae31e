import { describe, expect, it } from 'vitest';
import { createPlanCache } from './plan-cache.js';

const deps = { now: () => Date.now(), log: { warn() {}, info() {}, error() {}, debug() {} } } as never;

describe('createPlanCache', () => {
  it('answers a request with the first build that started after it arrived, however many changes keep coming', async () => {
    let builds = 0;
    const cache = createPlanCache(deps, 'test', () => ({}), async () => {
      const no = ++builds;
      await new Promise((r) => setTimeout(r, 30));
      return { stamp: no, refreshAt: Infinity, no };
    });
    await cache.current('A', 'w');
    // an editor changing the workspace all the time: a change lands during every build
    cache.onChange('A', 'w');
    const changes = setInterval(() => cache.onChange('A', 'w'), 5);
    try {
      const before = builds;
      const { plans } = await cache.current('A', 'w');
      // the build started for this request (or the one after a build it found running) answers it
      expect(plans.no).toBeGreaterThan(before);
      expect(plans.no).toBeLessThanOrEqual(before + 2);
    } finally {
      clearInterval(changes);
    }
  });

  it('a change committed before the request is in its answer, also when a build was already running', async () => {
    let builds = 0;
    let seen = 0;
    let committed = 0;
    const cache = createPlanCache(deps, 'test', () => ({}), async () => {
      const no = ++builds;
      const read = committed;
      await new Promise((r) => setTimeout(r, 30));
      seen = read;
      return { stamp: no, refreshAt: Infinity, read };
    });
    await cache.current('A', 'w');
    cache.onChange('A', 'w');
    const running = cache.current('A', 'w');
    await new Promise((r) => setTimeout(r, 5));
    // committed while that build reads: the request after it must not get the older plans
    committed = 1;
    cache.onChange('A', 'w');
    const { plans } = await cache.current('A', 'w');
    expect(plans.read).toBe(1);
    await running;
    expect(seen).toBe(1);
  });
});
