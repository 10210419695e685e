import Redis from 'ioredis';
import type { Log } from '../logging';
import type { CacheStore, StoreEvents } from './store';

/** Outlives any read in flight (REQUEST_TIMEOUT_MS is seconds), so a lost race is always seen. */
const GENERATION_TTL_S = 600;

/** KEYS: entry, its generation, its family's generation. ARGV: value, ttl, the two generations seen at the miss. */
const SET_IF_GENERATIONS = `
if (redis.call('GET', KEYS[2]) or '0') == ARGV[3] and (redis.call('GET', KEYS[3]) or '0') == ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0`;

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
