/**
 * A bounded map from request text to what it decodes or parses to, for pure
 * functions of that text only (the answer is the same with or without the
 * cache). Devices of one app send the same long fields again and again: the
 * `nebula-*-all` query, and the installed-version map of every device that
 * is up to date. When the entries or their characters pass the bounds, the
 * whole map is dropped (no per-entry bookkeeping on the hot path).
 */
export class TextCache<V> {
  private map = new Map<string, V>();
  private chars = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** `weight`: characters the entry holds besides its key. */
  set(key: string, value: V, weight: number): void {
    const cost = key.length + weight;
    if (cost > this.maxChars / 16) return; // an outsized entry would evict everything else
    if (this.map.size >= this.maxEntries || this.chars + cost > this.maxChars) {
      this.map = new Map();
      this.chars = 0;
    }
    this.map.set(key, value);
    this.chars += cost;
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * A copy of a string that does not keep a larger one alive (a slice of the
 * request body would otherwise hold the whole body in memory as a cache
 * key); null when the copy would differ (lone surrogates).
 */
export function detached(s: string): string | null {
  const copy = Buffer.from(s, 'utf8').toString('utf8');
  return copy === s ? copy : null;
}

/**
 * detached() for a string kept long-term whatever it holds: a device's user
 * key in the rate limiter or among a task's admitted users, a client key in
 * its cache. V8 cuts a string of 13 or more characters out of the request
 * body by reference, so each of these kept the whole body (up to 64 KB) alive.
 */
export function ownCopy(s: string): string {
  return detached(s) ?? Buffer.from(s, 'utf16le').toString('utf16le');
}
