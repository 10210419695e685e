import { Cachers, type ServiceBroker } from 'moleculer';
import { processHealth } from '../monitoring';
import type { Cache } from './cache';

export interface Invalidation {
  keys: string[];
  patterns: string[];
}

/**
 * Moleculer's cacher on top of our Cache, so action caching (`cache: { keys }` on an action) and
 * direct use share one store, one key space and one set of statistics.
 */
export class ArxosCacher extends Cachers.Base {
  constructor(readonly cache: Cache) {
    super({});
  }

  override init(broker: ServiceBroker) {
    super.init(broker);
    // not critical: with Redis away every read is a miss, served from the database
    const unregister = processHealth().register(
      'redis:cache',
      () =>
        this.cache.healthy()
          ? { status: 'pass' }
          : { status: 'warn', output: 'Redis unreachable: reads skip the cache' },
      { critical: false, componentId: broker.nodeID },
    );
    broker.localBus.on('$broker.started', () => void this.cache.start());
    broker.localBus.on('$broker.stopped', () => {
      unregister();
      void this.cache.stop();
    });
  }

  override close() {
    return this.cache.stop();
  }

  override async get(key: string) {
    const value = await this.cache.get<Record<string, unknown>>(key);
    return value ?? null;
  }

  override async getWithTTL(key: string) {
    return { data: await this.get(key), ttl: null };
  }

  override set(key: string, data: unknown, ttl?: number) {
    return this.cache.set(key, data, ttl);
  }

  override del(key: string | string[]) {
    return this.cache.del(Array.isArray(key) ? key : [key]);
  }

  /** Moleculer's patterns (`buildings.**`) are globs; both `*` and `**` mean any run of characters. */
  override async clean(match: string | string[] = '**') {
    const patterns = (Array.isArray(match) ? match : [match]).map((p) => p.replace(/\*\*/g, '*'));
    for (const p of patterns) await this.cache.clear(p);
  }

  /** Drops keys and patterns (both layers of a layered store). */
  async invalidate(inv: Invalidation) {
    await this.cache.del(inv.keys);
    for (const p of inv.patterns) await this.cache.clear(p);
  }
}
