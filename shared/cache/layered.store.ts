import type { CacheStore } from './store';
import type { MemoryStore } from './memory.store';
import type { RedisStore } from './redis.store';

/** A short-lived in-process layer in front of Redis: hits without a network round trip. */
export class LayeredStore implements CacheStore {
  readonly kind = 'layered';

  constructor(
    private readonly l1: MemoryStore,
    readonly l2: RedisStore,
    private readonly l1TtlS: number,
  ) {}

  healthy() {
    return this.l2.healthy();
  }
  async start() {
    await this.l1.start();
    await this.l2.start();
  }
  async stop() {
    await this.l1.stop();
    await this.l2.stop();
  }

  async get(key: string): Promise<unknown> {
    const [v] = await this.getMany([key]);
    return v;
  }

  async getMany(keys: string[], fill = true): Promise<unknown[]> {
    const local = await this.l1.getMany(keys);
    const missing = keys.filter((_k, i) => local[i] === undefined);
    if (missing.length === 0) return local;
    const remote = await this.l2.getMany(missing, fill);
    const found: [string, unknown][] = [];
    missing.forEach((k, i) => {
      if (remote[i] !== undefined) found.push([k, remote[i]]);
    });
    await this.l1.setMany(found, this.l1TtlS);
    const byKey = new Map(found);
    return keys.map((k, i) => local[i] ?? byKey.get(k));
  }

  async set(key: string, value: unknown, ttlS: number) {
    await this.setMany([[key, value]], ttlS);
  }

  async setMany(entries: [string, unknown][], ttlS: number) {
    await this.l1.setMany(entries, Math.min(ttlS, this.l1TtlS));
    await this.l2.setMany(entries, ttlS);
  }

  async del(keys: string[]) {
    await this.l1.del(keys);
    await this.l2.del(keys);
  }

  async clear(pattern: string) {
    const [a, b] = await Promise.all([this.l1.clear(pattern), this.l2.clear(pattern)]);
    return Math.max(a, b);
  }
}
