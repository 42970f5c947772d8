/**
 * A small least-recently-used cache on top of Map's insertion order. A hit only moves its
 * entry to the young end when it has aged past half the capacity (lazy promotion), so a hot
 * entry costs one Map probe, not a delete and a re-insert; eviction takes the oldest
 * inserted-or-promoted entry, which is never one used in the last capacity/2 operations.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; tick: number }>();
  private tick = 0;
  constructor(private readonly capacity: number) {}

  /** The cached value (and marks it recently used), or undefined. */
  get(key: K): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    const now = ++this.tick;
    if (now - e.tick > this.capacity >> 1) {
      this.map.delete(key);
      this.map.set(key, e);
      e.tick = now;
    }
    return e.value;
  }

  /** Stores a value, evicting the least recently used entry when full. */
  set(key: K, value: V): void {
    const now = ++this.tick;
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, { value, tick: now });
  }

  /** Number of cached entries. */
  get size(): number {
    return this.map.size;
  }

  /** Drops every entry. */
  clear(): void {
    this.map.clear();
  }
}
