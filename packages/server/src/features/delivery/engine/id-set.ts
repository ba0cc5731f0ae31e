/** Exact, case-sensitive membership of user ids. */
export interface IdSet {
  readonly size: number;
  has(id: string): boolean;
}

/** Lists up to this size stay a plain Set<string>; larger ones use the packed table. */
export const PACKED_FROM = 4096;
const MAX_ID_BYTES = 4 * 1024;
/** longest stretch finishAsync works before it hands the event loop back, ms */
const INSERT_SLICE_MS = 2;

/**
 * A hash set of user ids for big normal whitelists (a million ids): the ids'
 * UTF-8 bytes in one arena, their offsets in a Uint32Array, and an
 * open-addressing table (load <= 0.5, linear probing) in a Uint32Array. Exact
 * like Set<string> (a hit compares the bytes), but a million 8-character ids
 * take about 20 MB outside the JS heap instead of about 90 MB of resident
 * memory for a Set of strings, and the GC never scans it.
 *
 * A slot holds the entry number (plus one; 0 is empty) in its low bits and
 * the top bits of the id's hash in the bits the entry number does not need
 * (12 bits for a million ids). An id that is not on the list is then turned
 * away by the slot alone, without reading the offsets and the arena: on the
 * device endpoint each of those reads was a cache miss, and the lookup
 * showed up in profiles at about 1.5 µs.
 */
export class PackedIdSet implements IdSet {
  private readonly scratch = Buffer.allocUnsafe(MAX_ID_BYTES);
  private readonly mask: number;
  /** low bits of a slot: entry number + 1; the bits above them: the hash's top bits */
  private readonly entryBits: number;
  private readonly entryMask: number;

  private constructor(
    readonly size: number,
    private readonly arena: Buffer,
    private readonly offsets: Uint32Array,
    private readonly table: Uint32Array,
  ) {
    this.mask = table.length - 1;
    // offsets has one more element than there are entries
    this.entryBits = Math.min(31, 32 - Math.clz32(offsets.length));
    this.entryMask = 2 ** this.entryBits - 1;
  }

  /** the slot's entry number when it holds an id with this hash, else -1 */
  private entryAt(v: number, h: number): number {
    return v >>> this.entryBits === h >>> this.entryBits ? (v & this.entryMask) - 1 : -1;
  }

  /**
   * Collects ids one by one (pages straight from the database), then builds
   * the table. The arrays are allocated at the expected count and UTF-8 bytes
   * (no doubling from small, which would leave the allocator holding freed
   * memory); a guess that proves short doubles once, and the arena is copied
   * down to size when the slack is large.
   */
  static builder(expect?: { count: number; bytes: number }): {
    add(id: string): void;
    finish(): PackedIdSet;
    finishAsync(pause: () => Promise<void>): Promise<PackedIdSet>;
  } {
    let arena = Buffer.allocUnsafe(Math.max(1 << 16, expect ? expect.bytes : 0));
    let offsets = new Uint32Array(Math.max(1024, expect ? expect.count + 2 : 0));
    let n = 0;
    let used = 0;
    return {
      add(id: string) {
        const need = Buffer.byteLength(id);
        if (need >= MAX_ID_BYTES - 3) return; // longer than any id a device may send (256 characters)
        if (used + need > arena.length) {
          let len = arena.length * 2;
          while (used + need > len) len *= 2;
          const bigger = Buffer.allocUnsafe(len);
          arena.copy(bigger, 0, 0, used);
          arena = bigger;
        }
        if (n + 2 > offsets.length) {
          const bigger = new Uint32Array(offsets.length * 2);
          bigger.set(offsets);
          offsets = bigger;
        }
        offsets[n] = used;
        used += arena.write(id, used, 'utf8');
        n++;
      },
      finish() {
        const b = seal();
        for (let i = 0; i < n; i++) b.insert(i);
        return b.done();
      },
      // A million inserts take a few hundred milliseconds: a node that reads a big list while it serves
      // devices hands the event loop back between chunks, so its answers wait milliseconds, not the whole build.
      async finishAsync(pause: () => Promise<void>) {
        const b = seal();
        let since = performance.now();
        for (let i = 0; i < n; i++) {
          b.insert(i);
          // by the clock, not by count: the first inserts run before the JIT has optimised them, ten times slower
          if ((i & 255) === 255 && performance.now() - since >= INSERT_SLICE_MS) {
            await pause();
            since = performance.now();
          }
        }
        return b.done();
      },
    };
    function seal() {
      offsets[n] = used;
      // copied down to size only when the slack is worth it (a copy of a big list is a transient of its full size)
      const packed = arena.length - used <= arena.length / 8 ? arena.subarray(0, used) : Buffer.from(arena.subarray(0, used));
      const offs = offsets.length - (n + 1) <= offsets.length / 8 ? offsets.subarray(0, n + 1) : offsets.slice(0, n + 1);
      let cap = 16;
      while (cap < n * 2) cap *= 2;
      const table = new Uint32Array(cap);
      const set = new PackedIdSet(0, packed, offs, table);
      let size = 0;
      return {
        insert: (i: number) => {
          if (set.insert(i)) size++;
        },
        done: () => new PackedIdSet(size, packed, offs, table),
      };
    }
  }

  static of(ids: Iterable<string>): PackedIdSet {
    const b = PackedIdSet.builder();
    for (const id of ids) b.add(id);
    return b.finish();
  }

  has(id: string): boolean {
    if (id.length >= MAX_ID_BYTES) return false;
    // ASCII ids (the usual case): their UTF-8 bytes are their char codes, so no encoding into the scratch buffer
    const n = id.length;
    let h = 0x811c9dc5;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = id.charCodeAt(i);
      if (c > 0x7f) {
        ascii = false;
        break;
      }
      h = Math.imul(h ^ c, 0x01000193);
    }
    if (ascii) {
      if (n >= MAX_ID_BYTES - 3) return false;
      h = fmix32(h);
      let slot = h & this.mask;
      for (let v = this.table[slot]!; v !== 0; v = this.table[slot]!) {
        const e = this.entryAt(v, h);
        if (e >= 0 && this.equalsAscii(e, id)) return true;
        slot = (slot + 1) & this.mask;
      }
      return false;
    }
    const len = this.scratch.write(id, 0, 'utf8');
    if (len >= MAX_ID_BYTES - 3) return false;
    const hb = hashBytes(this.scratch, 0, len);
    let slot = hb & this.mask;
    for (let v = this.table[slot]!; v !== 0; v = this.table[slot]!) {
      const e = this.entryAt(v, hb);
      if (e >= 0 && this.equals(e, this.scratch, 0, len)) return true;
      slot = (slot + 1) & this.mask;
    }
    return false;
  }

  /** puts entry i in the table; false when an equal id is already there */
  private insert(i: number): boolean {
    const start = this.offsets[i]!;
    const len = this.offsets[i + 1]! - start;
    const h = hashBytes(this.arena, start, len);
    let slot = h & this.mask;
    for (let v = this.table[slot]!; v !== 0; v = this.table[slot]!) {
      const e = this.entryAt(v, h);
      if (e >= 0 && this.equals(e, this.arena, start, len)) return false;
      slot = (slot + 1) & this.mask;
    }
    // the hash's top bits above the entry number; unsigned, so >>> 0
    this.table[slot] = (((h >>> this.entryBits) * 2 ** this.entryBits) + i + 1) >>> 0;
    return true;
  }

  private equalsAscii(entry: number, id: string): boolean {
    const off = this.offsets[entry]!;
    if (this.offsets[entry + 1]! - off !== id.length) return false;
    const a = this.arena;
    for (let i = 0; i < id.length; i++) if (a[off + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  private equals(entry: number, buf: Buffer, start: number, len: number): boolean {
    const off = this.offsets[entry]!;
    if (this.offsets[entry + 1]! - off !== len) return false;
    const a = this.arena;
    for (let i = 0; i < len; i++) if (a[off + i] !== buf[start + i]) return false;
    return true;
  }
}

/** FNV-1a over bytes with a murmur3 finaliser, so the low bits used as slot are well mixed. */
function hashBytes(buf: Buffer, start: number, len: number): number {
  let h = 0x811c9dc5;
  for (let i = start, end = start + len; i < end; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A Set<string> for small lists, the packed table for big ones. */
export function idSetOf(ids: Iterable<string>): IdSet {
  const all = ids instanceof Set ? (ids as Set<string>) : new Set(ids);
  return all.size < PACKED_FROM ? all : PackedIdSet.of(all);
}

/**
 * A big list with the changes logged since it was read (whitelist_changes):
 * the read list stays shared, untouched, and the few ids added or removed
 * since sit beside it. Exact: `added` holds only ids the base lacks,
 * `removed` only ids it has.
 */
export class OverlayIdSet implements IdSet {
  private constructor(
    readonly base: IdSet,
    private readonly added: ReadonlySet<string>,
    private readonly removed: ReadonlySet<string>,
  ) {}

  get size(): number {
    return this.base.size + this.added.size - this.removed.size;
  }

  /** ids added or removed on top of the base */
  get changes(): number {
    return this.added.size + this.removed.size;
  }

  has(id: string): boolean {
    return this.added.has(id) || (!this.removed.has(id) && this.base.has(id));
  }

  /** `set` with `changes` applied in order; `set` itself is left as it is. */
  static apply(set: IdSet, changes: Iterable<{ value: string; added: boolean }>): OverlayIdSet {
    const base = set instanceof OverlayIdSet ? set.base : set;
    const added = new Set(set instanceof OverlayIdSet ? set.added : []);
    const removed = new Set(set instanceof OverlayIdSet ? set.removed : []);
    for (const c of changes) {
      const inBase = base.has(c.value);
      if (c.added) {
        if (inBase) removed.delete(c.value);
        else added.add(c.value);
      } else if (inBase) removed.add(c.value);
      else added.delete(c.value);
    }
    return new OverlayIdSet(base, added, removed);
  }
}
