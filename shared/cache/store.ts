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
