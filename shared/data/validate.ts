import { validationFailed, type FieldError } from '../errors';
import { COMMON_FIELDS, fieldsOf, type FieldSpec, type Resource } from './resource';

export type Body = Record<string, unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
export const METADATA_MAX_BYTES = 64 * 1024;

export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function isValidDate(text: string): boolean {
  if (!DATE.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(text);
}

export function isValidDateTime(text: string): boolean {
  return DATETIME.test(text) && !Number.isNaN(new Date(text).getTime());
}

function checkPosition(p: unknown, field: string, errors: FieldError[]): p is [number, number] {
  if (
    !Array.isArray(p) ||
    p.length < 2 ||
    p.length > 3 ||
    !p.every((n) => typeof n === 'number' && Number.isFinite(n))
  ) {
    errors.push({ field, message: 'must be a position [longitude, latitude]' });
    return false;
  }
  const lng = Number(p[0]);
  const lat = Number(p[1]);
  if (lng < -180 || lng > 180) errors.push({ field, message: 'longitude must be within -180..180' });
  if (lat < -90 || lat > 90) errors.push({ field, message: 'latitude must be within -90..90' });
  return true;
}

function checkPoint(v: unknown, field: string, errors: FieldError[]) {
  if (!isRecord(v) || v.type !== 'Point') {
    errors.push({ field, message: 'must be a GeoJSON Point' });
    return;
  }
  checkPosition(v.coordinates, `${field}.coordinates`, errors);
}

function checkPolygon(v: unknown, field: string, errors: FieldError[]) {
  if (!isRecord(v) || v.type !== 'Polygon') {
    errors.push({ field, message: 'must be a GeoJSON Polygon' });
    return;
  }
  const rings = v.coordinates;
  if (!Array.isArray(rings) || rings.length === 0) {
    errors.push({ field: `${field}.coordinates`, message: 'must be an array of linear rings' });
    return;
  }
  rings.forEach((ring: unknown, r) => {
    const at = `${field}.coordinates[${r}]`;
    if (!Array.isArray(ring) || ring.length < 4) {
      errors.push({ field: at, message: 'a linear ring needs at least 4 positions' });
      return;
    }
    const before = errors.length;
    ring.forEach((p: unknown, i) => checkPosition(p, `${at}[${i}]`, errors));
    if (errors.length > before) return;
    const first: unknown = ring[0];
    const last: unknown = ring[ring.length - 1];
    if (JSON.stringify(first) !== JSON.stringify(last)) {
      errors.push({ field: at, message: 'a linear ring must be closed (last position equal to the first)' });
    }
  });
}

function checkValue(spec: FieldSpec, v: unknown, field: string, errors: FieldError[]) {
  const push = (message: string) => errors.push({ field, message });
  switch (spec.type) {
    case 'string':
      if (typeof v !== 'string') return push('must be a string');
      // PostgreSQL text cannot hold NUL
      if (v.includes('\u0000')) return push('must not contain NUL characters');
      if (spec.required && v.trim() === '') return push('must not be empty');
      if (v.length > (spec.maxLength ?? 1000))
        return push(`must be at most ${spec.maxLength ?? 1000} characters`);
      return;
    case 'enum':
      if (typeof v !== 'string' || !spec.values?.includes(v))
        return push(`must be one of ${spec.values?.join(', ')}`);
      return;
    case 'integer':
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return push('must be a number');
      if (spec.type === 'integer' && !Number.isInteger(v)) return push('must be a whole number');
      if (spec.type === 'integer' && Math.abs(v) > 2_147_483_647) return push('is out of range');
      if (spec.min !== undefined && v < spec.min) return push(`must be at least ${spec.min}`);
      if (spec.max !== undefined && v > spec.max) return push(`must be at most ${spec.max}`);
      return;
    case 'boolean':
      if (typeof v !== 'boolean') return push('must be true or false');
      return;
    case 'datetime':
      if (typeof v !== 'string' || !isValidDateTime(v)) return push('must be an RFC 3339 date-time');
      return;
    case 'date':
      if (typeof v !== 'string' || !isValidDate(v)) return push('must be a date (YYYY-MM-DD)');
      return;
    case 'uuid':
      if (!isUuid(v)) return push('must be a UUID');
      return;
    case 'uuid[]':
      if (!Array.isArray(v)) return push('must be an array of UUIDs');
      v.forEach((item: unknown, i) => {
        if (!isUuid(item)) errors.push({ field: `${field}[${i}]`, message: 'must be a UUID' });
      });
      if (new Set(v).size !== v.length) push('must not repeat an id');
      return;
    case 'point':
      return checkPoint(v, field, errors);
    case 'polygon':
      return checkPolygon(v, field, errors);
    case 'money':
      return checkMoney(v, field, errors);
    case 'object':
      if (!isRecord(v)) return push('must be a JSON object');
      if (JSON.stringify(v).includes('\\u0000')) return push('must not contain NUL characters');
      if (Buffer.byteLength(JSON.stringify(v)) > (spec.max ?? METADATA_MAX_BYTES)) {
        return push(`must be at most ${spec.max ?? METADATA_MAX_BYTES} bytes`);
      }
      return;
  }
}

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));
const minorDigits = (currency: string) =>
  new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;

function checkMoney(v: unknown, field: string, errors: FieldError[]) {
  if (!isRecord(v)) return errors.push({ field, message: 'must be an object {amount, currency}' });
  for (const key of Object.keys(v)) {
    if (key !== 'amount' && key !== 'currency')
      errors.push({ field: `${field}.${key}`, message: 'is not a member of a money amount' });
  }
  const { amount, currency } = v;
  if (typeof currency !== 'string' || !CURRENCIES.has(currency)) {
    errors.push({ field: `${field}.currency`, message: 'must be an ISO 4217 currency code, e.g. EUR' });
  }
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount > 1e15) {
    return errors.push({ field: `${field}.amount`, message: 'must be a number from 0 to 1e15' });
  }
  if (typeof currency === 'string' && CURRENCIES.has(currency)) {
    const scaled = amount * 10 ** minorDigits(currency);
    if (Math.abs(scaled - Math.round(scaled)) > 1e-6)
      errors.push({ field: `${field}.amount`, message: `has more decimals than ${currency} has` });
  }
}

/**
 * Checks a create or update body against the resource's fields and returns the values to write.
 * Every problem is reported at once, each naming its field. Fields a client may not set (ids, audit
 * fields, version, computed fields) are refused, never silently dropped.
 */
export function validateBody(resource: Resource, body: unknown, mode: 'create' | 'update'): Body {
  if (!isRecord(body)) throw validationFailed([{ field: 'body', message: 'must be a JSON object' }]);
  const fields = fieldsOf(resource);
  const errors: FieldError[] = [];
  const values: Body = {};
  for (const [key, value] of Object.entries(body)) {
    const spec = fields[key];
    if (!spec || spec.hidden) {
      errors.push({ field: key, message: 'is not a field of this resource' });
      continue;
    }
    if (spec.readOnly) {
      errors.push({
        field: key,
        message: key in COMMON_FIELDS ? 'is set by the server' : 'is computed and cannot be set',
      });
      continue;
    }
    if (mode === 'update' && spec.immutable) {
      errors.push({ field: key, message: 'cannot be changed' });
      continue;
    }
    if (value === null) {
      if (spec.required || (spec.type === 'object' && !spec.nullable))
        errors.push({ field: key, message: 'must not be null' });
      else values[key] = null;
      continue;
    }
    if (value === undefined) continue;
    checkValue(spec, value, key, errors);
    values[key] = value;
  }
  if (mode === 'create') {
    for (const [key, spec] of Object.entries(resource.fields)) {
      if (
        spec.required &&
        (body[key] === undefined || body[key] === null) &&
        !errors.some((e) => e.field === key)
      ) {
        errors.push({ field: key, message: 'is required' });
      }
    }
  } else if (Object.keys(values).length === 0 && errors.length === 0) {
    errors.push({ field: 'body', message: 'names no field to change' });
  }
  if (errors.length > 0) throw validationFailed(errors);
  return values;
}
