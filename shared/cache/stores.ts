import Redis from 'ioredis';
import type { Log } from '../logging';

/*
 * The cache strategies (the seed's CacheStrategy): in-process memory, Redis, and the two layered.
 * Values are JSON. A store never throws: an error is a miss (reads) or a logged, counted failure
 * (writes), because a cache must never be the reason a read fails.
 */

export interface CacheStore {
  readonly kind: string;
  get(key: string): Promise<unknown>;
  /** `fill: false`: the caller will not store what it misses (no read-through bookkeeping) */
  getMany(keys: string[], fill?: boolean): Promise<unknown[]>;
  set(key: string, value: unknown, ttlS: number): Promise<void>;
  setMany(entries: [string, unknown][], ttlS: number): Promise<void>;
  del(keys: string[]): Promise<void>;
  /** removes every key matching a glob (`*` any run of characters) */
  clear(pattern: string): Promise<number>;
  /** true when the store can serve now */
  healthy(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface StoreEvents {
  error(kind: 'get' | 'set' | 'del' | 'clear', err: unknown): void;
  /** the store lost entries or missed invalidations (Redis came back after an outage) */
  reset(): void;
}

export const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);

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

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
}

/**
 * Redis with the options a cache needs (FACTS.md): no offline queue and one retry, so a command
 * fails at once while Redis is away instead of queueing for a minute; a command timeout, so a hung
 * server costs a few hundred ms at most; reconnection in the background.
 */
export class RedisStore implements CacheStore {
  readonly kind = 'redis';
  readonly client: Redis;
  private wasDown = false;

  constructor(
    private readonly opts: RedisStoreOptions,
    private readonly log: Log,
    private readonly events: StoreEvents,
  ) {
    this.client = new Redis(opts.url, {
      keyPrefix: opts.keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: 2000,
      // keep trying, at most every 2 s: the cache comes back by itself when Redis does
      retryStrategy: (times) => Math.min(times * 100, 2000),
    });
    this.client.on('error', (err: Error) => {
      if (!this.wasDown)
        log.warn('cache: Redis connection lost; reads go to the database meanwhile', { err: err.message });
      this.wasDown = true;
    });
    this.client.on('close', () => {
      this.wasDown = true;
    });
    this.client.on('ready', () => {
      if (!this.wasDown) return;
      this.wasDown = false;
      log.info('cache: Redis is back; dropping entries that may have missed invalidations');
      events.reset();
    });
  }

  healthy() {
    return this.client.status === 'ready';
  }

  async start() {
    // a command issued before start() may have begun connecting already
    if (this.client.status !== 'wait') return;
    try {
      await this.client.connect();
    } catch (err) {
      // not fatal: the cache is a speed-up; it reconnects in the background
      this.log.warn('cache: Redis is not reachable at start; running without it until it is', {
        err: String(err),
      });
    }
    this.wasDown = false;
  }

  async stop() {
    this.client.disconnect();
    return Promise.resolve();
  }

  async get(key: string): Promise<unknown> {
    const [value] = await this.getMany([key]);
    return value;
  }

  /*
   * A read-through cache races with writers: a reader misses, reads the old row, a writer commits and
   * invalidates, then the reader stores the old row for a whole TTL. Every invalidation therefore
   * bumps a generation counter (per key, and per key family for pattern clears); a miss notes the
   * generations it saw, and its fill is stored only if they are unchanged, checked and written in one
   * Lua call. A fill that lost the race is simply not cached.
   */
  private readonly misses = new Map<string, { gens: [string, string]; pending: number }>();

  private static genKeys(key: string): [string, string] {
    const colon = key.indexOf(':');
    return [`gen:${key}`, `gen:${colon > 0 ? key.slice(0, colon) : key}`];
  }

  async getMany(keys: string[], fill = true): Promise<unknown[]> {
    if (keys.length === 0 || !this.healthy()) return keys.map(() => undefined);
    try {
      const raw = await this.client.mget(...keys.flatMap((k) => [k, ...RedisStore.genKeys(k)]));
      return keys.map((k, i) => {
        const value = raw[i * 3];
        if (value !== null && value !== undefined) return JSON.parse(value) as unknown;
        if (!fill) return undefined;
        const seen = this.misses.get(k);
        // several misses of one key in flight: keep the oldest generations (the most cautious)
        if (seen) seen.pending += 1;
        else this.misses.set(k, { gens: [raw[i * 3 + 1] ?? '0', raw[i * 3 + 2] ?? '0'], pending: 1 });
        return undefined;
      });
    } catch (err) {
      this.events.error('get', err);
      return keys.map(() => undefined);
    }
  }

  async set(key: string, value: unknown, ttlS: number): Promise<void> {
    await this.setMany([[key, value]], ttlS);
  }

  async setMany(entries: [string, unknown][], ttlS: number): Promise<void> {
    if (entries.length === 0 || !this.healthy()) return;
    try {
      const pipeline = this.client.pipeline();
      for (const [k, v] of entries) {
        const miss = this.misses.get(k);
        if (miss) {
          miss.pending -= 1;
          if (miss.pending <= 0) this.misses.delete(k);
          const [gen, familyGen] = RedisStore.genKeys(k);
          pipeline.eval(
            SET_IF_GENERATIONS,
            3,
            k,
            gen,
            familyGen,
            JSON.stringify(v),
            ttlS,
            miss.gens[0],
            miss.gens[1],
          );
        } else {
          pipeline.set(k, JSON.stringify(v), 'EX', ttlS);
        }
      }
      await pipeline.exec();
    } catch (err) {
      this.events.error('set', err);
    }
  }

  async del(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      const pipeline = this.client.pipeline();
      for (const k of keys) {
        const [gen] = RedisStore.genKeys(k);
        pipeline.incr(gen).expire(gen, GENERATION_TTL_S);
      }
      pipeline.unlink(...keys);
      const results = await pipeline.exec();
      const failed = results?.find(([e]) => e !== null);
      if (failed?.[0]) throw failed[0];
    } catch (err) {
      // an invalidation that did not happen: everything goes when Redis is back (events.reset)
      this.wasDown = true;
      this.events.error('del', err);
    }
  }

  /** Counts a hit in a fixed window; undefined when Redis cannot answer (the caller decides). */
  async hit(key: string, windowS: number): Promise<{ count: number; resetS: number } | undefined> {
    if (!this.healthy()) return undefined;
    try {
      const results = await this.client.multi().incr(key).expire(key, windowS, 'NX').ttl(key).exec();
      const count = Number(results?.[0]?.[1]);
      const ttl = Number(results?.[2]?.[1]);
      return Number.isFinite(count) ? { count, resetS: ttl > 0 ? ttl : windowS } : undefined;
    } catch (err) {
      this.events.error('get', err);
      return undefined;
    }
  }

  async peek(key: string): Promise<{ count: number; resetS: number } | undefined> {
    if (!this.healthy()) return undefined;
    try {
      const results = await this.client.multi().get(key).ttl(key).exec();
      const count = results?.[0]?.[1];
      const ttl = Number(results?.[1]?.[1]);
      return typeof count === 'string' ? { count: Number(count), resetS: Math.max(1, ttl) } : undefined;
    } catch (err) {
      this.events.error('get', err);
      return undefined;
    }
  }

  /** SCAN + UNLINK in batches: never KEYS, which blocks Redis on a large keyspace. */
  async clear(pattern: string): Promise<number> {
    let removed = 0;
    try {
      const [, familyGen] = RedisStore.genKeys(pattern);
      await this.client.multi().incr(familyGen).expire(familyGen, GENERATION_TTL_S).exec();
      let cursor = '0';
      do {
        const [next, keys] = await this.client.scan(
          cursor,
          'MATCH',
          this.opts.keyPrefix + pattern,
          'COUNT',
          500,
        );
        cursor = next;
        if (keys.length > 0) {
          // SCAN returns full keys; the client adds the prefix again, so strip it first
          await this.client.unlink(...keys.map((k) => k.slice(this.opts.keyPrefix.length)));
          removed += keys.length;
        }
      } while (cursor !== '0');
    } catch (err) {
      this.wasDown = true;
      this.events.error('clear', err);
    }
    return removed;
  }
}

/** Outlives any read in flight (REQUEST_TIMEOUT_MS is seconds), so a lost race is always seen. */
const GENERATION_TTL_S = 600;

/** KEYS: entry, its generation, its family's generation. ARGV: value, ttl, the two generations seen at the miss. */
const SET_IF_GENERATIONS = `
if (redis.call('GET', KEYS[2]) or '0') == ARGV[3] and (redis.call('GET', KEYS[3]) or '0') == ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0`;

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
