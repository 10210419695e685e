/*
 * `npm run migrate [-- up | down [N|all] | status]`: database migrations (umzug, under an advisory
 * lock so concurrent runs queue). `up` is what the start command and the Kubernetes Job run.
 */
import { config, ConfigError } from '../shared/config';
import { createLogger } from '../shared/logging';
import { createDatabase, migrateDown, migrateUp, migrationStatus } from '../shared/db';
import { ensureDatabase, messageOf, say } from './environment';

async function main(argv: string[]) {
  const [command = 'up', arg] = argv;
  const cfg = config();
  const logger = createLogger({ level: cfg.logLevel });
  if (command === 'up') await ensureDatabase(cfg.db.url);
  const db = createDatabase(cfg.db, logger, 'arxos-migrate');
  try {
    if (command === 'up') {
      const { applied } = await migrateUp(db.sequelize, cfg.db.url, logger);
      say(applied.length ? `applied: ${applied.join(', ')}` : 'nothing to apply');
    } else if (command === 'down') {
      const steps = arg === 'all' ? 'all' : Number(arg ?? 1);
      if (steps !== 'all' && !(Number.isInteger(steps) && steps > 0))
        throw new Error('down takes a count or "all"');
      const { applied } = await migrateDown(db.sequelize, cfg.db.url, logger, steps);
      say(reverted(applied));
    } else if (command === 'status') {
      const status = await migrationStatus(db.sequelize, logger);
      say(`executed: ${status.executed.join(', ') || '(none)'}`);
      say(`pending:  ${status.pending.join(', ') || '(none)'}`);
    } else {
      throw new Error(`unknown command '${command}': use up, down [N|all] or status`);
    }
  } finally {
    await db.stop();
  }
}

const reverted = (names: string[]) => (names.length ? `reverted: ${names.join(', ')}` : 'nothing to revert');

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(`[arxos] ${err instanceof ConfigError ? err.message : `migrate failed: ${messageOf(err)}`}`);
  process.exit(1);
});
