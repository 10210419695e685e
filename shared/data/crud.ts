import { createCore, type DataAccessOptions } from './access';
import { createReads } from './reads';
import { createWrites } from './writes';
import { createBulk } from './bulk';

export { toOutput } from './access';
export type {
  Committed,
  DataAccessOptions,
  DeleteOptions,
  DeleteResult,
  HistoryEntry,
  Page,
  UpdateOptions,
  WriteOptions,
} from './access';

/** The one data-access mechanism over a registry of resources (used by the dataService mixin). */
export function createDataAccess(options: DataAccessOptions) {
  const core = createCore(options);
  return { resource: core.resourceOf, ...createReads(core), ...createWrites(core), ...createBulk(core) };
}

export type DataAccess = ReturnType<typeof createDataAccess>;
