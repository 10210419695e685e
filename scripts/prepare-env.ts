/*
 * `npm run prepare-env`: makes this machine ready to run Arxos. Checks that PostgreSQL, Redis and
 * RabbitMQ answer, installs PostGIS where it is missing (and allowed), creates the database and
 * migrates it. `--for-tests` stops after the checks, PostGIS and promtool (for the deployment tests):
 * each test run makes its own database.
 */
import { config, ConfigError } from '../shared/config';
import { createLogger } from '../shared/logging';
import { createDatabase, migrateUp } from '../shared/db';
import {
  checkServices,
  ensureDatabase,
  ensurePostgis,
  ensurePromtool,
  EnvironmentError,
  messageOf,
  say,
} from './environment';

export async function prepareEnvironment(options: { forTests?: boolean } = {}): Promise<void> {
  const cfg = config();
  await checkServices(cfg);
  await ensurePostgis(cfg);
  if (options.forTests) return ensurePromtool(cfg);
  await ensureDatabase(cfg.db.url);
  const logger = createLogger({ level: cfg.logLevel });
  const db = createDatabase(cfg.db, logger, 'arxos-migrate');
  try {
    const { applied } = await migrateUp(db.sequelize, cfg.db.url, logger);
    say(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database schema is up to date');
  } finally {
    await db.stop();
  }
}

if (require.main === module) {
  prepareEnvironment({ forTests: process.argv.includes('--for-tests') }).then(
    () => say('environment ready'),
    (err: unknown) => {
      if (err instanceof EnvironmentError || err instanceof ConfigError)
        console.error(`[arxos] ${err.message}`);
      else console.error('[arxos] preparing the environment failed:', messageOf(err));
      process.exit(1);
    },
  );
}
