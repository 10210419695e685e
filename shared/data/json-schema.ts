import { fieldsOf, type FieldSpec, type Resource } from './resource';

/** JSON Schema (2020-12, as OpenAPI 3.1 uses it) of a resource's fields: for the API docs. */

type Schema = Record<string, unknown>;

function schemaOf(spec: FieldSpec): Schema {
  switch (spec.type) {
    case 'string':
      return { type: 'string', ...(spec.maxLength ? { maxLength: spec.maxLength } : {}) };
    case 'enum':
      return { type: 'string', enum: spec.values };
    case 'integer':
    case 'number':
      return {
        type: spec.type,
        ...(spec.min !== undefined ? { minimum: spec.min } : {}),
        ...(spec.max !== undefined ? { maximum: spec.max } : {}),
      };
    case 'boolean':
      return { type: 'boolean' };
    case 'datetime':
      return { type: 'string', format: 'date-time' };
    case 'date':
      return { type: 'string', format: 'date' };
    case 'uuid':
      return { type: 'string', format: 'uuid' };
    case 'uuid[]':
      return { type: 'array', items: { type: 'string', format: 'uuid' }, uniqueItems: true };
    case 'point':
      return { $ref: '#/components/schemas/Point' };
    case 'polygon':
      return { $ref: '#/components/schemas/Polygon' };
    case 'money':
      return { $ref: '#/components/schemas/Money' };
    case 'object':
      return { type: 'object', maxProperties: 10_000, description: 'free JSON object, at most 64 KiB' };
  }
}

const orNull = (s: Schema): Schema =>
  s.$ref ? { oneOf: [s, { type: 'null' }] } : { ...s, type: [s.type, 'null'] };

export interface ResourceSchemas {
  name: string;
  /** what a response holds */
  entity: Schema;
  create: Schema;
  update: Schema;
  /** query parameters of a list: field → the schema of one value */
  filters: Record<string, Schema>;
  sortable: string[];
  spatial: { near: boolean; bbox: boolean; containsPoint: boolean };
}

export function resourceSchemas(resource: Resource): ResourceSchemas {
  const all = fieldsOf(resource);
  const entity: Record<string, Schema> = {};
  const writable: Record<string, Schema> = {};
  const required: string[] = [];
  const filters: Record<string, Schema> = {};
  const sortable: string[] = [];
  for (const [name, spec] of Object.entries(all)) {
    const s = schemaOf(spec);
    if (!spec.hidden && !spec.writeOnly) entity[name] = spec.required || spec.readOnly ? s : orNull(s);
    if (!spec.readOnly && !spec.hidden) {
      writable[name] = spec.required ? s : orNull(s);
      if (spec.required) required.push(name);
    }
    if (spec.filter && !spec.hidden && !spec.writeOnly) filters[name] = s;
    if (spec.sort && !spec.hidden) sortable.push(name);
  }
  const immutable = Object.entries(all)
    .filter(([, s]) => s.immutable)
    .map(([n]) => n);
  const updatable = Object.fromEntries(Object.entries(writable).filter(([n]) => !immutable.includes(n)));
  return {
    name: resource.name,
    entity: { type: 'object', properties: entity },
    create: { type: 'object', properties: writable, required, additionalProperties: false },
    update: { type: 'object', properties: updatable, additionalProperties: false, minProperties: 1 },
    filters,
    sortable,
    spatial: {
      near: Boolean(resource.spatial?.near),
      bbox: Boolean(resource.spatial?.bbox),
      containsPoint: Boolean(resource.spatial?.containsPoint),
    },
  };
}
