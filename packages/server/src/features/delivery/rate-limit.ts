/**
 * Per-device request limit, per node and in memory: a fixed one-minute
 * window. It is an abuse guard, not a quota: with N nodes behind a balancer a
 * device may get up to N times the limit. 0 disables it.
 */
export class DeviceRateLimiter {
  private window = -1;
  /** scope (app/workspace) -> device -> requests in the current window */
  private counts = new Map<string, Map<string, number>>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** counts one request of a device (user key, else remote address) of an app/workspace; false when it is over its limit */
  allow(scopeKey: string, deviceKey: string): boolean {
    if (this.perMinute <= 0) return true;
    const w = Math.floor(this.now() / 60_000);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    let devices = this.counts.get(scopeKey);
    if (!devices) this.counts.set(scopeKey, (devices = new Map()));
    const n = (devices.get(deviceKey) ?? 0) + 1;
    devices.set(deviceKey, n);
    return n <= this.perMinute;
  }

  /** seconds until the current window ends */
  retryAfterSec(): number {
    return Math.max(1, Math.ceil((60_000 - (this.now() % 60_000)) / 1000));
  }
}
