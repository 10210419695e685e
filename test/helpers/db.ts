import { config } from '../../shared/config';
import { createDatabase, defineModels, migrateUp, type Database, type Models } from '../../shared/db';
import { createDataAccess, type DataAccess, type Resource } from '../../shared/data';
import { createLogger } from '../../shared/logging';
import { dropDatabase, ensureDatabase } from '../../scripts/environment';
import { buildingResources } from '../../services/buildings/buildings.resources';
import { deviceResources } from '../../services/devices/devices.resources';
import { userResources } from '../../services/users/users.resources';
import { projectResources } from '../../services/projects/projects.resources';
import { atEndOfRun } from './root-hooks';

export interface TestDb {
  database: Database;
  models: Models;
  data: DataAccess;
  resources: Record<string, Resource>;
}

let ready: Promise<TestDb> | undefined;

export const testLogger = () => createLogger({ level: config().logLevel });

/** This run's database, created and migrated on first use, dropped at the end of the run. */
export function testDb(): Promise<TestDb> {
  ready ??= (async () => {
    const cfg = config();
    await ensureDatabase(cfg.db.url);
    const database = createDatabase(cfg.db, testLogger(), 'arxos-test');
    atEndOfRun(async () => {
      await database.stop();
      await dropDatabase(cfg.db.url);
    });
    await migrateUp(database.sequelize, cfg.db.url, testLogger());
    const models = defineModels(database.sequelize);
    const resources = {
      ...buildingResources(models),
      ...deviceResources(models),
      ...userResources(models),
      ...projectResources(models),
    };
    const data = createDataAccess({ sequelize: database.sequelize, resources, txRetries: cfg.db.txRetries });
    return { database, models, data, resources };
  })();
  return ready;
}

let counter = 0;
/** A value unique within this run (codes, serial numbers, emails). */
export const unique = (prefix: string) =>
  `${prefix}-${process.pid}-${Date.now().toString(36)}-${(counter += 1)}`;
