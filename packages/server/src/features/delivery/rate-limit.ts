/**
 * Per-device request limit, per node and in memory: a fixed one-minute
 * window. It is an abuse guard, not a quota: with N nodes behind a balancer a
 * device may get up to N times the limit. 0 disables it.
 */
export class DeviceRateLimiter {
  private window = -1;
  private counts = new Map<string, number>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /** counts one request; false when the device is over its limit */
  allow(deviceKey: string): boolean {
    if (this.perMinute <= 0) return true;
    const w = Math.floor(this.now() / 60_000);
    if (w !== this.window) {
      this.window = w;
      this.counts = new Map();
    }
    const n = (this.counts.get(deviceKey) ?? 0) + 1;
    this.counts.set(deviceKey, n);
    return n <= this.perMinute;
  }

  /** seconds until the current window ends */
  retryAfterSec(): number {
    return Math.max(1, Math.ceil((60_000 - (this.now() % 60_000)) / 1000));
  }
}
