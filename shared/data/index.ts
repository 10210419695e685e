export { createDataAccess, toOutput } from './crud';
export type {
  DataAccess,
  Page,
  WriteOptions,
  UpdateOptions,
  DeleteOptions,
  DeleteResult,
  HistoryEntry,
} from './crud';
export { parseListQuery, DEFAULT_LIMIT, MAX_LIMIT } from './query';
export type { ListSpec, QueryInput, SortKey } from './query';
export { validateBody, isUuid } from './validate';
export { toDomainError } from './db-errors';
export { COMMON_FIELDS, fieldsOf } from './resource';
export type {
  Resource,
  FieldSpec,
  FieldType,
  UniqueRule,
  ChildRelation,
  ParentRelation,
  SpatialConfig,
  PrepareContext,
  RowErrors,
  Caller,
} from './resource';
export type { ImportMode, ImportOptions, ImportReport, RowResult, RowSource, SourceRow } from './bulk';
export { dataService, dataOf, entityCacheKey } from './mixin';
export type { DataServiceOptions } from './mixin';
export { resourceSchemas } from './json-schema';
export type { ResourceSchemas } from './json-schema';
