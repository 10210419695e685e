export { Cache } from './cache';
export type { CacheStats } from './cache';
export { ArxosCacher } from './cacher';
export type { Invalidation } from './cacher';
export { MemoryStore, RedisStore, LayeredStore, globToRegExp } from './stores';
export type { CacheStore } from './stores';
