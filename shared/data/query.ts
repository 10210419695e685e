import { Op, type WhereOptions } from 'sequelize';
import { validationFailed, type FieldError } from '../errors';
import { fieldsOf, type FieldSpec, type Resource } from './resource';
import { isUuid, isValidDate, isValidDateTime } from './validate';

/** A query string as Moleculer-web hands it over: repeated parameters become arrays. */
export type QueryInput = Record<string, unknown>;

export interface SortKey {
  field: string;
  desc: boolean;
  /** null values can appear in this key (they sort last ascending, first descending) */
  nullable: boolean;
}

export interface ListSpec {
  where: WhereOptions[];
  sort: SortKey[];
  limit: number;
  cursor?: string;
  deleted: 'exclude' | 'include' | 'only';
  count: boolean;
  near?: { lng: number; lat: number; radius: number };
  bbox?: [number, number, number, number];
  containsPoint?: { lng: number; lat: number };
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
const DEFAULT_SORT = '-createdAt';

const OPERATORS = ['in', 'gt', 'gte', 'lt', 'lte', 'ic', 'isnull'] as const;
type Operator = (typeof OPERATORS)[number] | 'eq';
const isOperator = (s: string): s is (typeof OPERATORS)[number] => OPERATORS.some((o) => o === s);

const RANGE_TYPES = new Set(['integer', 'number', 'datetime', 'date', 'string']);
const TEXT_TYPES = new Set(['string', 'enum']);
const FILTERABLE_TYPES = new Set([
  'string',
  'enum',
  'integer',
  'number',
  'boolean',
  'datetime',
  'date',
  'uuid',
]);
/** parameters that are not field filters */
const CONTROL = new Set([
  'sort',
  'limit',
  'cursor',
  'deleted',
  'count',
  'q',
  'near',
  'radius',
  'bbox',
  'containsPoint',
]);

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function asStrings(v: unknown): string[] {
  const one = (x: unknown) => (typeof x === 'string' ? x : JSON.stringify(x));
  if (Array.isArray(v)) return v.map(one);
  if (v === undefined || v === null) return [];
  return [one(v)];
}

/** Parses one filter value of a field's type; an error names `param`. */
function parseValue(spec: FieldSpec, text: string, param: string, errors: FieldError[]): unknown {
  const bad = (message: string) => {
    errors.push({ field: param, message });
    return undefined;
  };
  switch (spec.type) {
    case 'integer':
      return /^-?\d{1,10}$/.test(text) ? Number(text) : bad('must be a whole number');
    case 'number':
      return text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : bad('must be a number');
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : bad('must be true or false');
    case 'datetime':
      return isValidDateTime(text) ? new Date(text) : bad('must be an RFC 3339 date-time');
    case 'date':
      return isValidDate(text) ? text : bad('must be a date (YYYY-MM-DD)');
    case 'uuid':
      return isUuid(text) ? text : bad('must be a UUID');
    case 'enum':
      return spec.values?.includes(text) ? text : bad(`must be one of ${spec.values?.join(', ')}`);
    default:
      return text;
  }
}

function parseCoordinates(
  text: string,
  count: number,
  param: string,
  errors: FieldError[],
): number[] | undefined {
  const parts = text.split(',');
  const nums = parts.map((p) => Number(p));
  if (parts.length !== count || parts.some((p) => p.trim() === '') || nums.some((n) => !Number.isFinite(n))) {
    errors.push({ field: param, message: `must be ${count} comma-separated numbers` });
    return undefined;
  }
  for (let i = 0; i < count; i += 2) {
    const lng = nums[i] ?? 0;
    const lat = nums[i + 1] ?? 0;
    if (lng < -180 || lng > 180 || lat < -90 || lat > 90) {
      errors.push({
        field: param,
        message: 'longitude must be within -180..180 and latitude within -90..90',
      });
      return undefined;
    }
  }
  return nums;
}

function single(query: QueryInput, name: string, errors: FieldError[]): string | undefined {
  const values = asStrings(query[name]);
  if (values.length > 1) errors.push({ field: name, message: 'may be given once' });
  return values[0];
}

/**
 * Turns a list request's query parameters into a ListSpec, following API.md "Lists" to the letter.
 * Anything it does not understand (field, operator, sort key, value) is a 400 naming the parameter.
 */
export function parseListQuery(resource: Resource, query: QueryInput): ListSpec {
  const fields = fieldsOf(resource);
  const errors: FieldError[] = [];
  const where: WhereOptions[] = [];

  for (const [param, raw] of Object.entries(query)) {
    if (CONTROL.has(param)) continue;
    const values = asStrings(raw);

    if (param.startsWith('metadata.')) {
      const key = param.slice('metadata.'.length);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(key)) {
        errors.push({ field: param, message: 'metadata keys are letters, digits, _ and - (at most 64)' });
        continue;
      }
      where.push({ metadata: { [key]: values.length === 1 ? values[0] : { [Op.in]: values } } });
      continue;
    }

    const sep = param.lastIndexOf('__');
    const field = sep > 0 ? param.slice(0, sep) : param;
    const opText = sep > 0 ? param.slice(sep + 2) : 'eq';
    const spec = fields[field];
    if (!spec || !spec.filter || spec.hidden || spec.writeOnly || !FILTERABLE_TYPES.has(spec.type)) {
      errors.push({ field: param, message: `unknown filter field '${field}'` });
      continue;
    }
    let op: Operator;
    if (opText === 'eq') op = 'eq';
    else if (isOperator(opText)) op = opText;
    else {
      errors.push({ field: param, message: `unknown operator '${opText}' (known: ${OPERATORS.join(', ')})` });
      continue;
    }

    if (op === 'eq' || op === 'in') {
      const items = op === 'in' ? values.flatMap((v) => v.split(',')) : values;
      const parsed = items.map((v) => parseValue(spec, v, param, errors));
      where.push({ [field]: parsed.length === 1 ? parsed[0] : { [Op.in]: parsed } });
    } else if (op === 'isnull') {
      for (const v of values) {
        if (v !== 'true' && v !== 'false') errors.push({ field: param, message: 'must be true or false' });
        else where.push({ [field]: v === 'true' ? { [Op.is]: null } : { [Op.not]: null } });
      }
    } else if (op === 'ic') {
      if (!TEXT_TYPES.has(spec.type)) {
        errors.push({ field: param, message: `'ic' applies to text fields only` });
        continue;
      }
      for (const v of values) where.push({ [field]: { [Op.iLike]: `%${escapeLike(v)}%` } });
    } else {
      if (!RANGE_TYPES.has(spec.type)) {
        errors.push({ field: param, message: `'${op}' does not apply to ${spec.type} fields` });
        continue;
      }
      const sym = { gt: Op.gt, gte: Op.gte, lt: Op.lt, lte: Op.lte }[op];
      for (const v of values) where.push({ [field]: { [sym]: parseValue(spec, v, param, errors) } });
    }
  }

  const q = single(query, 'q', errors);
  if (q !== undefined && q !== '') {
    const searched = resource.search ?? ['name'];
    where.push({ [Op.or]: searched.map((f) => ({ [f]: { [Op.iLike]: `%${escapeLike(q)}%` } })) });
  }

  const spec: ListSpec = {
    where,
    sort: [],
    limit: DEFAULT_LIMIT,
    deleted: 'exclude',
    count: false,
  };

  const limitText = single(query, 'limit', errors);
  if (limitText !== undefined) {
    const n = /^\d{1,6}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(n >= 1 && n <= MAX_LIMIT))
      errors.push({ field: 'limit', message: `must be a whole number from 1 to ${MAX_LIMIT}` });
    else spec.limit = n;
  }

  const deleted = single(query, 'deleted', errors);
  if (deleted !== undefined) {
    if (deleted === 'include' || deleted === 'only') spec.deleted = deleted;
    else errors.push({ field: 'deleted', message: 'must be include or only' });
  }

  const count = single(query, 'count', errors);
  if (count !== undefined) {
    if (count === 'true' || count === 'false') spec.count = count === 'true';
    else errors.push({ field: 'count', message: 'must be true or false' });
  }

  const cursor = single(query, 'cursor', errors);
  if (cursor !== undefined && cursor !== '') spec.cursor = cursor;

  parseSpatial(resource, query, spec, errors);

  const sortText = single(query, 'sort', errors) ?? (spec.near ? 'distance' : DEFAULT_SORT);
  for (const part of sortText.split(',')) {
    const desc = part.startsWith('-');
    const field = desc ? part.slice(1) : part;
    if (field === 'distance' && spec.near) {
      spec.sort.push({ field, desc, nullable: false });
      continue;
    }
    const f = fields[field];
    if (!f || !f.sort || f.hidden) {
      errors.push({ field: 'sort', message: `unknown sort key '${field}'` });
      continue;
    }
    if (spec.sort.some((s) => s.field === field)) {
      errors.push({ field: 'sort', message: `'${field}' is named twice` });
      continue;
    }
    spec.sort.push({ field, desc, nullable: resource.model.getAttributes()[field]?.allowNull !== false });
  }
  // the id breaks ties, so every row has one place in the order and a cursor can point between rows
  if (!spec.sort.some((s) => s.field === 'id'))
    spec.sort.push({ field: 'id', desc: spec.sort[0]?.desc ?? true, nullable: false });

  if (errors.length > 0) throw validationFailed(errors);
  return spec;
}

function parseSpatial(resource: Resource, query: QueryInput, spec: ListSpec, errors: FieldError[]) {
  const spatial = resource.spatial ?? {};
  const near = single(query, 'near', errors);
  const radius = single(query, 'radius', errors);
  if (near !== undefined || radius !== undefined) {
    if (!spatial.near)
      errors.push({
        field: near !== undefined ? 'near' : 'radius',
        message: 'this resource has no location to search near',
      });
    else if (near === undefined) errors.push({ field: 'near', message: 'is required with radius' });
    else if (radius === undefined) errors.push({ field: 'radius', message: 'is required with near' });
    else {
      const c = parseCoordinates(near, 2, 'near', errors);
      const r = Number(radius);
      if (radius.trim() === '' || !Number.isFinite(r) || r <= 0 || r > 20_037_508) {
        errors.push({
          field: 'radius',
          message: 'must be a distance in metres, above 0 and at most 20037508',
        });
      } else if (c) spec.near = { lng: c[0] ?? 0, lat: c[1] ?? 0, radius: r };
    }
  }
  const bbox = single(query, 'bbox', errors);
  if (bbox !== undefined) {
    if (!spatial.bbox)
      errors.push({ field: 'bbox', message: 'this resource has no geometry to search in a box' });
    else {
      const c = parseCoordinates(bbox, 4, 'bbox', errors);
      if (c) {
        const [minLng = 0, minLat = 0, maxLng = 0, maxLat = 0] = c;
        if (minLng > maxLng || minLat > maxLat)
          errors.push({ field: 'bbox', message: 'must be minLng,minLat,maxLng,maxLat' });
        else spec.bbox = [minLng, minLat, maxLng, maxLat];
      }
    }
  }
  const contains = single(query, 'containsPoint', errors);
  if (contains !== undefined) {
    if (!spatial.containsPoint)
      errors.push({ field: 'containsPoint', message: 'this resource has no area to contain a point' });
    else {
      const c = parseCoordinates(contains, 2, 'containsPoint', errors);
      if (c) spec.containsPoint = { lng: c[0] ?? 0, lat: c[1] ?? 0 };
    }
  }
}
