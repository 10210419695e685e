import type { Config } from '../config';
import type { Log } from '../logging';
import { cacheHits, cacheMisses } from '../monitoring';
import { LayeredStore } from './layered.store';
import { MemoryStore } from './memory.store';
import { RedisStore } from './redis.store';
import type { CacheStore } from './store';

export interface CacheStats {
  strategy: string;
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  errors: number;
  /** hits / (hits + misses), 0 before the first read */
  hitRatio: number;
  healthy: boolean;
}

/** Does nothing: CACHE_STRATEGY=off. */
class NoStore implements CacheStore {
  readonly kind = 'off';
  get() {
    return Promise.resolve(undefined);
  }
  getMany(keys: string[]) {
    return Promise.resolve(keys.map(() => undefined));
  }
  set() {
    return Promise.resolve();
  }
  setMany() {
    return Promise.resolve();
  }
  del() {
    return Promise.resolve();
  }
  clear() {
    return Promise.resolve(0);
  }
  healthy() {
    return true;
  }
  start() {
    return Promise.resolve();
  }
  stop() {
    return Promise.resolve();
  }
}

/**
 * The one cache of a process (the seed's cache manager): a strategy chosen by config, JSON values
 * with TTL, get/set of many keys at once, pattern clearing, hit/miss statistics and health.
 * Keys live under `<REDIS_KEY_PREFIX>cache:`.
 */
export class Cache {
  readonly store: CacheStore;
  readonly defaultTtlS: number;
  private readonly counts = { hits: 0, misses: 0, sets: 0, deletes: 0, errors: 0 };

  constructor(cfg: Pick<Config, 'cache' | 'redis'>, log: Log) {
    const events = {
      error: (kind: string, err: unknown) => {
        this.counts.errors += 1;
        log.debug(`cache ${kind} failed`, { err: String(err) });
      },
      reset: () => void this.store.clear('*'),
    };
    const redis = () =>
      new RedisStore(
        {
          url: cfg.redis.url,
          keyPrefix: `${cfg.redis.keyPrefix}cache:`,
          commandTimeoutMs: cfg.redis.commandTimeoutMs,
        },
        log,
        events,
      );
    this.defaultTtlS = cfg.cache.ttlS;
    switch (cfg.cache.strategy) {
      case 'redis':
        this.store = redis();
        break;
      case 'layered':
        this.store = new LayeredStore(
          new MemoryStore(cfg.cache.memoryMaxEntries),
          redis(),
          cfg.cache.memoryTtlS,
        );
        break;
      case 'memory':
        this.store = new MemoryStore(cfg.cache.memoryMaxEntries);
        break;
      case 'off':
        this.store = new NoStore();
        break;
    }
  }

  start() {
    return this.store.start();
  }
  stop() {
    return this.store.stop();
  }

  /** `fill: false` when a miss will not be followed by set() here (someone else fills the entry). */
  async get<T = unknown>(key: string, opts: { fill?: boolean } = {}): Promise<T | undefined> {
    const [v] = await this.getMany<T>([key], opts);
    return v;
  }

  async getMany<T = unknown>(keys: string[], opts: { fill?: boolean } = {}): Promise<(T | undefined)[]> {
    const values = await this.store.getMany(keys, opts.fill ?? true);
    let hits = 0;
    for (const v of values) if (v !== undefined) hits += 1;
    this.counts.hits += hits;
    this.counts.misses += values.length - hits;
    if (hits > 0) cacheHits.inc(hits);
    if (values.length > hits) cacheMisses.inc(values.length - hits);
    // values were written by set<T>() under the same key
    return values as (T | undefined)[];
  }

  async set(key: string, value: unknown, ttlS = this.defaultTtlS) {
    this.counts.sets += 1;
    await this.store.set(key, value, ttlS);
  }

  async setMany(entries: [string, unknown][], ttlS = this.defaultTtlS) {
    this.counts.sets += entries.length;
    await this.store.setMany(entries, ttlS);
  }

  async del(keys: string[]) {
    this.counts.deletes += keys.length;
    await this.store.del(keys);
  }

  clear(pattern = '*') {
    return this.store.clear(pattern);
  }

  healthy() {
    return this.store.healthy();
  }

  private readonly localCounters = new Map<string, { count: number; until: number }>();

  /**
   * Counts one hit of `key` in a fixed window of `windowS` (rate limits, login throttling), shared by
   * every instance through Redis. Without Redis (strategy memory/off, or Redis down) it counts in this
   * process only, so a limit still holds per instance.
   */
  async hit(key: string, windowS: number): Promise<{ count: number; resetS: number }> {
    const store = this.store instanceof LayeredStore ? this.store.l2 : this.store;
    const shared = store instanceof RedisStore ? await store.hit(`rl:${key}`, windowS) : undefined;
    if (shared) return shared;
    const now = Date.now();
    const c = this.localCounters.get(key);
    const entry =
      c && c.until > now ? { count: c.count + 1, until: c.until } : { count: 1, until: now + windowS * 1000 };
    this.localCounters.set(key, entry);
    if (this.localCounters.size > 100_000) this.localCounters.clear();
    return { count: entry.count, resetS: Math.ceil((entry.until - now) / 1000) };
  }

  /** The count of `key` in its current window without counting a hit (undefined: none, or unknown). */
  async peekHits(key: string): Promise<{ count: number; resetS: number } | undefined> {
    const store = this.store instanceof LayeredStore ? this.store.l2 : this.store;
    if (store instanceof RedisStore) return store.peek(`rl:${key}`);
    const c = this.localCounters.get(key);
    const now = Date.now();
    return c && c.until > now ? { count: c.count, resetS: Math.ceil((c.until - now) / 1000) } : undefined;
  }

  async resetHits(key: string): Promise<void> {
    this.localCounters.delete(key);
    const store = this.store instanceof LayeredStore ? this.store.l2 : this.store;
    if (store instanceof RedisStore) await store.del([`rl:${key}`]);
  }

  stats(): CacheStats {
    const reads = this.counts.hits + this.counts.misses;
    return {
      strategy: this.store.kind,
      ...this.counts,
      hitRatio: reads === 0 ? 0 : this.counts.hits / reads,
      healthy: this.store.healthy(),
    };
  }
}
