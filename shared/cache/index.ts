export { Cache } from './cache';
export type { CacheStats } from './cache';
export { ArxosCacher } from './cacher';
export type { Invalidation } from './cacher';
export { MemoryStore } from './memory.store';
export { RedisStore } from './redis.store';
export { LayeredStore } from './layered.store';
export { globToRegExp } from './store';
export type { CacheStore } from './store';
