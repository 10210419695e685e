export { createDatabase } from './connection';
export type { Database, PoolStats } from './connection';
export { withTransaction, sqlState, Transaction } from './transaction';
export type { TransactionOptions } from './transaction';
export { migrateUp, migrateDown, migrationStatus } from './migrator';
export type { MigrationContext } from './migrator';
export {
  defineEntity,
  entityTypeOf,
  entityEventTypes,
  changeRecordModelFor,
  plainGeoJson,
  SYSTEM_FIELDS,
} from './entity';
export type {
  Attrs,
  EntityInstance,
  EntityModel,
  ChangeAction,
  Changes,
  ChangeRecordRow,
  DomainEventOverride,
} from './entity';
export { defineModels } from './models';
export type { Models } from './models';
