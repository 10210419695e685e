import path from 'node:path';
import { Client } from 'pg';
import { QueryTypes, type Sequelize } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import type { Log } from '../logging';

export interface MigrationContext {
  sequelize: Sequelize;
  /** runs SQL (several statements allowed) */
  sql: (text: string) => Promise<void>;
}

export interface Migration {
  up: (ctx: MigrationContext) => Promise<void>;
  down: (ctx: MigrationContext) => Promise<void>;
}

function isMigration(m: unknown): m is Migration {
  return (
    typeof m === 'object' &&
    m !== null &&
    'up' in m &&
    typeof m.up === 'function' &&
    'down' in m &&
    typeof m.down === 'function'
  );
}

/** Key of the session-level advisory lock that serialises migrations across starting pods. */
const MIGRATION_LOCK = 'arxos:migrations';

function createUmzug(sequelize: Sequelize, logger: Log) {
  const context: MigrationContext = {
    sequelize,
    sql: async (text) => {
      await sequelize.query(text, { type: QueryTypes.RAW });
    },
  };
  return new Umzug<MigrationContext>({
    migrations: {
      // .ts under ts-node, .js once built; the name drops the extension so both record the same row
      glob: ['migrations/*.{ts,js}', { cwd: __dirname, ignore: ['**/*.d.ts'] }],
      resolve: ({ path: file }) => {
        if (!file) throw new Error('migration without a path');
        const name = path.basename(file).replace(/\.(ts|js)$/, '');
        const load = async (): Promise<Migration> => {
          const loaded: unknown = await import(file);
          if (!isMigration(loaded)) throw new Error(`migration ${name} must export up() and down()`);
          return loaded;
        };
        return {
          name,
          up: async ({ context: c }) => (await load()).up(c),
          down: async ({ context: c }) => (await load()).down(c),
        };
      },
    },
    context,
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: {
      info: (m) => logger.info('migration', m),
      warn: (m) => logger.warn('migration', m),
      error: (m) => logger.error('migration', m),
      debug: (m) => logger.debug('migration', m),
    },
  });
}

/**
 * Runs `fn` while holding a PostgreSQL advisory lock on a connection of its own, so that several
 * pods starting at once migrate one after the other (the later ones find nothing left to do).
 * The lock is tied to that session: if this process dies, PostgreSQL releases it.
 */
async function withMigrationLock<T>(databaseUrl: string, logger: Log, fn: () => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'arxos-migrate' });
  await client.connect();
  try {
    const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
      MIGRATION_LOCK,
    ]);
    if (!got.rows[0]?.ok) {
      logger.info('another process is migrating; waiting for it');
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK]);
    }
    return await fn();
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK]).catch((err: unknown) => {
      logger.warn('could not release the migration lock; it goes with the session', { err });
    });
    await client.end();
  }
}

export interface MigrationResult {
  applied: string[];
}

export async function migrateUp(
  sequelize: Sequelize,
  databaseUrl: string,
  logger: Log,
): Promise<MigrationResult> {
  return withMigrationLock(databaseUrl, logger, async () => {
    const umzug = createUmzug(sequelize, logger);
    const pending = await umzug.pending();
    let done = 0;
    umzug.on('migrated', ({ name }) => {
      done += 1;
      logger.info(`migrated ${name} (${done}/${pending.length})`);
    });
    const applied = await umzug.up();
    return { applied: applied.map((m) => m.name) };
  });
}

/** Reverts the last `steps` migrations (all of them with `steps: 'all'`). */
export async function migrateDown(
  sequelize: Sequelize,
  databaseUrl: string,
  logger: Log,
  steps: number | 'all' = 1,
): Promise<MigrationResult> {
  return withMigrationLock(databaseUrl, logger, async () => {
    const umzug = createUmzug(sequelize, logger);
    const reverted = await umzug.down(steps === 'all' ? { to: 0 } : { step: steps });
    return { applied: reverted.map((m) => m.name) };
  });
}

export async function migrationStatus(sequelize: Sequelize, logger: Log) {
  const umzug = createUmzug(sequelize, logger);
  return {
    executed: (await umzug.executed()).map((m) => m.name),
    pending: (await umzug.pending()).map((m) => m.name),
  };
}
