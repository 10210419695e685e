import { Sequelize } from 'sequelize';
import type { Config } from '../config';
import type { Log } from '../logging';
import {
  dbQueryDuration,
  processHealth,
  sqlOperation,
  timer,
  trackPool,
  type CheckResult,
} from '../monitoring';

export interface PoolStats {
  /** connections open */
  size: number;
  /** open and idle */
  available: number;
  /** handed out to a query or transaction */
  using: number;
  /** callers queued for a connection */
  waiting: number;
  max: number;
}

interface SequelizePool {
  size: number;
  available: number;
  using: number;
  waiting: number;
}

const isPool = (p: unknown): p is SequelizePool =>
  typeof p === 'object' && p !== null && 'size' in p && 'available' in p && 'using' in p && 'waiting' in p;

export interface Database {
  sequelize: Sequelize;
  /** connects and checks the server answers */
  start(): Promise<void>;
  stop(): Promise<void>;
  poolStats(): PoolStats;
  /** one round trip; throws when the database cannot serve */
  ping(): Promise<void>;
}

export function createDatabase(config: Config['db'], logger: Log, applicationName = 'arxos'): Database {
  const sequelize = new Sequelize(config.url, {
    dialect: 'postgres',
    logging: config.logSql ? (sql: string) => logger.debug(sql) : false,
    pool: {
      max: config.pool.max,
      min: config.pool.min,
      acquire: config.pool.acquireMs,
      idle: config.pool.idleMs,
      // discards connections the driver saw fail (Sequelize's validate), and closes idle ones
      evict: Math.min(config.pool.idleMs, 1000),
    },
    dialectOptions: {
      statement_timeout: config.statementTimeoutMs || undefined,
      idle_in_transaction_session_timeout: Math.max(config.statementTimeoutMs * 2, 60_000),
      application_name: applicationName,
    },
    define: { underscored: true },
  });

  // every statement's duration, by operation (the SQL's first word), failures included
  const running = new WeakMap<object, () => number>();
  sequelize.addHook('beforeQuery', (_options, query) => {
    running.set(query, timer());
  });
  sequelize.addHook('afterQuery', (_options, query) => {
    const elapsed = running.get(query);
    const sql: unknown = Reflect.get(query, 'sql');
    if (elapsed) dbQueryDuration.labels(sqlOperation(typeof sql === 'string' ? sql : '')).observe(elapsed());
  });
  let untrack: (() => void)[] = [];

  /** Readiness: one round trip; slow (over a second) or a queue longer than the pool warns. */
  const check = async (): Promise<CheckResult> => {
    const started = Date.now();
    await database.ping();
    const ms = Date.now() - started;
    const pool = database.poolStats();
    return {
      status: ms > 1000 || pool.waiting > pool.max ? 'warn' : 'pass',
      observedValue: ms,
      observedUnit: 'ms',
      output: `pool ${pool.using}/${pool.max} in use, ${pool.waiting} waiting`,
    };
  };

  const database: Database = {
    sequelize,
    async start() {
      await sequelize.authenticate();
      if (untrack.length === 0)
        untrack = [
          trackPool(database),
          processHealth().register('postgres:responseTime', check, { componentId: applicationName }),
        ];
      logger.info('database connected', { pool: config.pool });
    },
    async stop() {
      for (const fn of untrack) fn();
      untrack = [];
      await sequelize.close();
    },
    poolStats() {
      const pool: unknown = Reflect.get(sequelize.connectionManager, 'pool');
      const stats = isPool(pool) ? pool : { size: 0, available: 0, using: 0, waiting: 0 };
      return {
        size: stats.size,
        available: stats.available,
        using: stats.using,
        waiting: stats.waiting,
        max: config.pool.max,
      };
    },
    async ping() {
      await sequelize.query('SELECT 1');
    },
  };
  return database;
}
