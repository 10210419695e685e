import type { CacheStore } from './store';
import { globToRegExp } from './store';

/** LRU with per-entry expiry, bounded by entry count. */
export class MemoryStore implements CacheStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, { value: string; expires: number }>();

  constructor(private readonly maxEntries: number) {}

  get(key: string): Promise<unknown> {
    const e = this.entries.get(key);
    if (!e) return Promise.resolve(undefined);
    if (e.expires <= Date.now()) {
      this.entries.delete(key);
      return Promise.resolve(undefined);
    }
    // re-insert: Map keeps insertion order, so the first key is the least recently used
    this.entries.delete(key);
    this.entries.set(key, e);
    return Promise.resolve(JSON.parse(e.value) as unknown);
  }

  async getMany(keys: string[]): Promise<unknown[]> {
    return Promise.all(keys.map((k) => this.get(k)));
  }

  set(key: string, value: unknown, ttlS: number): Promise<void> {
    // stored serialised: a cached object must not change when the caller mutates what it got
    this.entries.delete(key);
    this.entries.set(key, { value: JSON.stringify(value), expires: Date.now() + ttlS * 1000 });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return Promise.resolve();
  }

  async setMany(entries: [string, unknown][], ttlS: number): Promise<void> {
    for (const [k, v] of entries) await this.set(k, v, ttlS);
  }

  del(keys: string[]): Promise<void> {
    for (const k of keys) this.entries.delete(k);
    return Promise.resolve();
  }

  clear(pattern: string): Promise<number> {
    const re = globToRegExp(pattern);
    let n = 0;
    for (const k of [...this.entries.keys()]) {
      if (re.test(k)) {
        this.entries.delete(k);
        n += 1;
      }
    }
    return Promise.resolve(n);
  }

  healthy() {
    return true;
  }
  start() {
    return Promise.resolve();
  }
  stop() {
    this.entries.clear();
    return Promise.resolve();
  }
}
