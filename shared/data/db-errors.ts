import { Errors } from 'moleculer';
import {
  BaseError,
  ConnectionError,
  DatabaseError,
  ForeignKeyConstraintError,
  OptimisticLockError,
  TimeoutError,
  UniqueConstraintError,
  ValidationError as SequelizeValidationError,
} from 'sequelize';
import { conflict, isArxosError, preconditionFailed, unavailable, validationFailed } from '../errors';
import { sqlState } from '../db';
import type { Resource } from './resource';

const columnToField = (column: string) => column.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** `Key (floor_id, number)=(…, 12) already exists.` → ['floorId', 'number'] */
function fieldsFromDetail(detail: unknown): string[] {
  if (typeof detail !== 'string') return [];
  const m = /Key \((.+?)\)=/.exec(detail);
  if (!m?.[1]) return [];
  return m[1].split(',').map((c) => columnToField(c.trim().replace(/^lower\((\w+).*$/, '$1')));
}

const detailOf = (err: BaseError): unknown => {
  const parent: unknown = Reflect.get(err, 'parent');
  return typeof parent === 'object' && parent !== null ? Reflect.get(parent, 'detail') : undefined;
};
const constraintOf = (err: BaseError): unknown => {
  const parent: unknown = Reflect.get(err, 'parent');
  return typeof parent === 'object' && parent !== null ? Reflect.get(parent, 'constraint') : undefined;
};

/**
 * The one place database errors become errors a caller can act on. Anything not recognised is
 * rethrown as is: the broker's error handler logs it with its stack and the client sees a bare 500
 * without SQL or internals.
 */
export function toDomainError(err: unknown, resource: Resource): Error {
  if (isArxosError(err) && err instanceof Error) return err;
  if (err instanceof Errors.MoleculerError) return err;
  if (err instanceof OptimisticLockError) {
    return preconditionFailed(`${resource.title} was changed by someone else; read it again and retry`);
  }
  if (err instanceof UniqueConstraintError) {
    const rule = resource.unique?.find((u) => u.index === constraintOf(err));
    const fields = rule?.fields ?? fieldsFromDetail(detailOf(err));
    const named = fields.filter((f) => !f.endsWith('Id') || fields.length === 1);
    return conflict(
      `another live ${resource.name} already has this ${(named.length ? named : fields).join(' and ') || 'value'}`,
      (named.length ? named : fields).map((field) => ({ field, message: 'is already taken' })),
    );
  }
  if (err instanceof ForeignKeyConstraintError) {
    const fields = fieldsFromDetail(detailOf(err));
    const insertOrUpdate =
      typeof detailOf(err) === 'string' && /is not present in table/.test(String(detailOf(err)));
    return insertOrUpdate
      ? validationFailed(
          fields.map((field) => ({ field, message: 'refers to something that does not exist' })),
        )
      : conflict(
          `${resource.title} is still referred to`,
          fields.map((field) => ({ field, message: 'is in use' })),
        );
  }
  if (err instanceof SequelizeValidationError) {
    return validationFailed(err.errors.map((e) => ({ field: e.path ?? 'body', message: e.message })));
  }
  if (err instanceof ConnectionError || err instanceof TimeoutError) return unavailable('the database');
  if (err instanceof DatabaseError) {
    const state = sqlState(err);
    if (state === '57014') return unavailable('the database (statement timed out)'); // query_canceled
    if (state?.startsWith('08') || state === '57P01' || state === '53300') return unavailable('the database');
    if (state === '23514')
      return validationFailed([{ field: checkField(err, resource), message: 'is out of the allowed range' }]);
    if (['22P02', '22003', '22007', '22008', '22021', '22P05', '54000'].includes(state ?? '')) {
      return validationFailed([{ field: 'body', message: 'a value has the wrong form or is out of range' }]);
    }
    if (state === 'XX000' && /geometry|geojson|polygon|ring/i.test(err.message)) {
      return validationFailed([{ field: 'geometry', message: 'is not valid GeoJSON geometry' }]);
    }
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** `buildings_gross_area_check` → `grossArea` */
function checkField(err: BaseError, resource: Resource): string {
  const name = constraintOf(err);
  const prefix = `${resource.model.tableName}_`;
  if (typeof name !== 'string' || !name.startsWith(prefix) || !name.endsWith('_check')) return 'body';
  return columnToField(name.slice(prefix.length, -'_check'.length));
}
