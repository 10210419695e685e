import type { WhereOptions } from 'sequelize';
import type { Attrs, EntityModel, Transaction } from '../db';

/** A call to another service's action, carrying the running request's context (actor, request id). */
export type Caller = (action: string, params: Record<string, unknown>) => Promise<unknown>;

export interface PrepareContext {
  mode: 'create' | 'update';
  transaction: Transaction;
  /** the row as it is before an update */
  current?: Attrs;
  /** RPC to another service (references owned elsewhere are checked by their owner) */
  call: Caller;
}

/** What prepareMany says of one row: nothing (fine) or its field errors. */
export type RowErrors = { field: string; message: string }[] | undefined;

/** How a field of a resource is typed, validated, filtered and sorted. */
export type FieldType =
  | 'string'
  | 'enum'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'datetime'
  | 'date'
  | 'uuid'
  | 'uuid[]'
  | 'point'
  | 'polygon'
  | 'object'
  /** `{ amount, currency }`: ISO 4217 code, amount ≥ 0 with at most the currency's minor digits */
  | 'money';

export interface FieldSpec {
  type: FieldType;
  /** required on create */
  required?: boolean;
  /** may be set to null */
  nullable?: boolean;
  /** the server computes it; a body naming it is refused */
  readOnly?: boolean;
  /** settable on create only */
  immutable?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
  /** longest string, in characters */
  maxLength?: number;
  filter?: boolean;
  sort?: boolean;
  /** never in a response (e.g. a password hash) */
  hidden?: boolean;
  /** accepted in a body, never stored as is nor shown (e.g. a password, hashed by `prepare`) */
  writeOnly?: boolean;
}

export interface UniqueRule {
  /** the partial unique index that enforces it (migrations) */
  index: string;
  /** the fields a clash is reported on */
  fields: string[];
}

export interface ChildRelation {
  /** the child resource's name (a key of the registry given to the mechanism) */
  resource: string;
  /** column of the child that points at the parent */
  foreignKey: string;
}

export interface ParentRelation {
  model: EntityModel;
  title: string;
  foreignKey: string;
}

export interface SpatialConfig {
  /** point column answering `near` + `radius` (with `distance`) */
  near?: string;
  /** column answering `bbox` */
  bbox?: string;
  /** polygon column answering `containsPoint` */
  containsPoint?: string;
}

export interface Resource {
  /** entity type, singular: `building` */
  name: string;
  /** for messages: `Building` */
  title: string;
  model: EntityModel;
  fields: Record<string, FieldSpec>;
  /**
   * Fields written outside the mechanism at high rate (a device's lastSeenAt): a list that filters or
   * sorts on one is never served from the cache.
   */
  volatile?: string[];
  /** fields `q=` searches, case-insensitively */
  search?: string[];
  unique?: UniqueRule[];
  /** live children block a delete unless cascade, and are deleted with it */
  children?: ChildRelation[];
  spatial?: SpatialConfig;
  /** parents that must be live for this entity to be created or restored */
  parents?: ParentRelation[];
  /**
   * Derives and checks what field validation cannot: derived ids, rules across fields, PostGIS
   * validity. Runs inside the write's transaction; may change `values`; throws domain errors.
   */
  prepare?: (values: Attrs, ctx: PrepareContext) => Promise<void>;
  /**
   * The same for many rows at once, for checks that cost a round trip (another service's ids): one
   * call for the batch, an answer per row. Single writes run it with one row; bulk imports per batch.
   */
  prepareMany?: (rows: Attrs[], ctx: PrepareContext) => Promise<RowErrors[]>;
  /**
   * Object-level authorization: a filter of the rows `user` may see (and so read, change, delete,
   * restore, or read the history of); undefined for all. Applied by the mechanism inside the owning
   * service, so a call over the broker is bound by it too. (Projects use it for membership.)
   */
  visibility?: (user: { id: string; role: string }) => WhereOptions | undefined;
}

/** Fields every entity has, all filterable and sortable, none writable. */
export const COMMON_FIELDS: Record<string, FieldSpec> = {
  id: { type: 'uuid', readOnly: true, filter: true, sort: true },
  version: { type: 'integer', readOnly: true, filter: true },
  createdAt: { type: 'datetime', readOnly: true, filter: true, sort: true },
  updatedAt: { type: 'datetime', readOnly: true, filter: true, sort: true },
  createdBy: { type: 'string', readOnly: true, filter: true },
  updatedBy: { type: 'string', readOnly: true, filter: true },
  deletedAt: { type: 'datetime', readOnly: true, nullable: true, filter: true, sort: true },
  deletedBy: { type: 'string', readOnly: true, nullable: true, filter: true },
  metadata: { type: 'object' },
};

const merged = new WeakMap<Resource, Record<string, FieldSpec>>();

/** The resource's fields with the common ones, built once per resource (it is on every read's path). */
export function fieldsOf(resource: Resource): Record<string, FieldSpec> {
  let fields = merged.get(resource);
  if (!fields) {
    fields = { ...COMMON_FIELDS, ...resource.fields };
    merged.set(resource, fields);
  }
  return fields;
}
