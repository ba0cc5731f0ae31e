import type { Deps } from '../../core/registry.js';

export function startJanitor(_deps: Deps): { stop(): void } {
  return { stop: () => {} };
}
