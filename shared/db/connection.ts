import { Sequelize } from 'sequelize';
import type { Config } from '../config';
import type { Log } from '../logging';

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

  return {
    sequelize,
    async start() {
      await sequelize.authenticate();
      logger.info('database connected', { pool: config.pool });
    },
    async stop() {
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
}
