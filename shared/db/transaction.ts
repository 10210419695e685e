import { setTimeout as sleep } from 'node:timers/promises';
import { Transaction, type Sequelize } from 'sequelize';

/** SQLSTATEs after which running the whole transaction again can succeed. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected

export function sqlState(err: unknown): string | undefined {
  for (const key of ['parent', 'original']) {
    const inner: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, key) : undefined;
    const code: unknown =
      typeof inner === 'object' && inner !== null ? Reflect.get(inner, 'code') : undefined;
    if (typeof code === 'string') return code;
  }
  const own: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'code') : undefined;
  return typeof own === 'string' && /^[0-9A-Z]{5}$/.test(own) ? own : undefined;
}

export interface TransactionOptions {
  isolationLevel?: Transaction.ISOLATION_LEVELS;
  /** how often to run it again after a serialization failure or deadlock */
  retries?: number;
  /** called before each retry, for logs and metrics */
  onRetry?: (attempt: number, err: unknown) => void;
}

/**
 * Runs `work` in a transaction and commits it; on a serialization failure or deadlock the WHOLE
 * transaction runs again (Sequelize's own `retry` repeats one statement, which cannot fix either),
 * after a jittered exponential backoff. `work` gets the transaction and must pass it to every query.
 */
export async function withTransaction<T>(
  sequelize: Sequelize,
  work: (t: Transaction) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const retries = options.retries ?? 5;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await sequelize.transaction({ isolationLevel: options.isolationLevel }, work);
    } catch (err) {
      const state = sqlState(err);
      if (!state || !RETRYABLE.has(state) || attempt >= retries) throw err;
      options.onRetry?.(attempt + 1, err);
      const base = Math.min(1000, 10 * 2 ** attempt);
      await sleep(base / 2 + Math.random() * base);
    }
  }
}

export { Transaction };
