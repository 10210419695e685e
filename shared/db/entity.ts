import {
  DataTypes,
  Model,
  type CreateOptions,
  type DestroyOptions,
  type InstanceUpdateOptions,
  type ModelAttributes,
  type ModelStatic,
  type Sequelize,
  type Transaction,
  type UpdateOptions,
} from 'sequelize';
import { randomUUID } from 'node:crypto';
import { contextOrSystem } from '../context';
import { changeRecords, type ChangeAction, type ChangeRecordRow, type Changes } from './change-records';
import {
  appendEvents,
  currentSchemaVersion,
  defersEvents,
  eventTypeOf,
  stageEvents,
  type NewEvent,
} from '../events';

/*
 * The one definition every entity shares: UUID id, optimistic-lock version, audit fields, soft delete
 * with deletion batch, metadata; and the one set of hooks that fills the audit fields from the request
 * context and writes a change record per affected row, in the caller's transaction.
 */

export type Attrs = Record<string, unknown>;
export type EntityInstance = Model<Attrs, Attrs>;
export type EntityModel = ModelStatic<EntityInstance>;

/** Fields every entity has; a client never sets them (shared/data refuses them in bodies). */
export const SYSTEM_FIELDS = [
  'id',
  'version',
  'createdAt',
  'updatedAt',
  'createdBy',
  'updatedBy',
  'deletedAt',
  'deletedBy',
  'deletionBatchId',
] as const;

/** Not worth a line in a change record: they change on every write. */
const UNRECORDED = new Set([
  'version',
  'createdAt',
  'updatedAt',
  'createdBy',
  'updatedBy',
  'deletedBy',
  'deletionBatchId',
]);

interface EntityInfo {
  entityType: string;
  hidden: Set<string>;
  events: Partial<Record<ChangeAction, string>>;
}
const entityTypes = new WeakMap<object, EntityInfo>();

export function entityTypeOf(model: EntityModel): string {
  const info = entityTypes.get(model);
  if (!info) throw new Error(`${model.name} is not an entity (define it with defineEntity)`);
  return info.entityType;
}

export interface EntityOptions {
  /** the singular name used in change records and events, e.g. `building` */
  entityType: string;
  tableName: string;
  /** attributes whose values never go into a change record (e.g. password hashes) */
  hidden?: string[];
  /**
   * Domain event types where `<entityType>.<past tense>` is not the name the API gives (a member of a
   * project is part of the project: `project.member_added`).
   */
  events?: Partial<Record<ChangeAction, string>>;
}

/** The type of the event a write of this entity emits. */
export function entityEventType(model: EntityModel, action: ChangeAction): string {
  return entityTypes.get(model)?.events[action] ?? eventTypeOf(entityTypeOf(model), action);
}

/** Every event type this entity emits (for subscriptions). */
export function entityEventTypes(model: EntityModel): string[] {
  const actions: ChangeAction[] = ['create', 'update', 'delete', 'restore'];
  return [...new Set(actions.map((a) => entityEventType(model, a)))];
}

export function defineEntity(
  sequelize: Sequelize,
  modelName: string,
  attributes: ModelAttributes<EntityInstance, Attrs>,
  options: EntityOptions,
): EntityModel {
  const model = sequelize.define<EntityInstance, Attrs>(
    modelName,
    {
      id: { type: DataTypes.UUID, primaryKey: true, defaultValue: DataTypes.UUIDV4 },
      createdBy: { type: DataTypes.TEXT, allowNull: false },
      updatedBy: { type: DataTypes.TEXT, allowNull: false },
      deletedBy: { type: DataTypes.TEXT },
      deletionBatchId: { type: DataTypes.UUID },
      metadata: { type: DataTypes.JSONB, allowNull: false, defaultValue: {} },
      ...attributes,
    },
    {
      tableName: options.tableName,
      underscored: true,
      timestamps: true,
      paranoid: true,
      version: true,
    },
  );
  entityTypes.set(model, {
    entityType: options.entityType,
    hidden: new Set(options.hidden ?? []),
    events: options.events ?? {},
  });
  attachHooks(model, sequelize);
  return model;
}

const same = (a: unknown, b: unknown) => {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === 'object' && a !== null) return JSON.stringify(a) === JSON.stringify(b);
  return a === b;
};

function diff(model: EntityModel, instance: EntityInstance, all: boolean): Changes {
  const hidden = entityTypes.get(model)?.hidden ?? new Set<string>();
  const changes: Changes = {};
  const previous = (k: string): unknown => (all ? null : (instance.previous(k) ?? null));
  for (const key of Object.keys(model.getAttributes())) {
    if (UNRECORDED.has(key)) continue;
    const after: unknown = instance.getDataValue(key) ?? null;
    const before = previous(key);
    if (all ? after === null : same(before, after)) continue;
    changes[key] = hidden.has(key) ? ['[hidden]', '[hidden]'] : [before, after];
  }
  return changes;
}

function actionOf(changes: Changes): ChangeAction {
  const deleted = changes.deletedAt;
  if (deleted) return deleted[0] === null ? 'delete' : 'restore';
  return 'update';
}

/** Bulk writes collect their records on the options object and insert them in one statement. */
const PENDING = Symbol('arxos.pendingChanges');
type WithPending = { [PENDING]?: Change[]; transaction?: Transaction | null };

/** One written row: its change record and its domain event, stored together in the write's transaction. */
interface Change {
  record: ChangeRecordRow;
  event: NewEvent;
}

/** The version a row has after this write (a static update's version is still SQL in dataValues). */
function versionAfter(instance: EntityInstance, action: ChangeAction): number {
  const now: unknown = instance.getDataValue('version');
  if (typeof now === 'number') return now;
  const before: unknown = instance.previous('version');
  return action === 'create' ? 0 : (typeof before === 'number' ? before : 0) + 1;
}

/** GeoJSON as API.md shows it: Sequelize adds a `crs` member on read, which we drop. */
export function plainGeoJson(v: unknown): unknown {
  if (typeof v === 'object' && v !== null && 'type' in v && 'coordinates' in v) {
    return { type: v.type, coordinates: v.coordinates };
  }
  return v;
}

/** The row as an event carries it: no hidden values, no bookkeeping. */
function stateOf(model: EntityModel, instance: EntityInstance): Attrs {
  const hidden = entityTypes.get(model)?.hidden ?? new Set<string>();
  const state: Attrs = {};
  for (const key of Object.keys(model.getAttributes())) {
    if (hidden.has(key) || key === 'deletionBatchId' || key === 'version') continue;
    state[key] = plainGeoJson(instance.getDataValue(key));
  }
  return state;
}

function requireTransaction(model: EntityModel, options: { transaction?: Transaction | null }): Transaction {
  if (!options.transaction) {
    // a change and its record must commit or roll back together
    throw new Error(`${model.name}: entity writes need a transaction (shared/db withTransaction)`);
  }
  return options.transaction;
}

/**
 * A write that means more than "updated" names its domain event on the save options
 * (`{ event: { type: 'device.status_changed', data: { reason } } }`); the record stays an update.
 */
export interface DomainEventOverride {
  type: string;
  data?: Record<string, unknown>;
}

function record(
  model: EntityModel,
  instance: EntityInstance,
  action: ChangeAction,
  changes: Changes,
  override?: DomainEventOverride,
): Change {
  const ctx = contextOrSystem();
  const entityType = entityTypeOf(model);
  const entityId = String(instance.getDataValue('id'));
  const at = new Date();
  const type = override?.type ?? entityEventType(model, action);
  return {
    record: { entityType, entityId, action, actor: ctx.actor, requestId: ctx.requestId, at, changes },
    event: {
      id: randomUUID(),
      type,
      aggregateType: entityType,
      aggregateId: entityId,
      aggregateVersion: versionAfter(instance, action),
      occurredAt: at,
      actor: ctx.actor,
      requestId: ctx.requestId,
      causationId: ctx.causationId ?? null,
      schemaVersion: currentSchemaVersion(type),
      data: { ...override?.data, changes, state: stateOf(model, instance) },
    },
  };
}

async function insertRecords(sequelize: Sequelize, changes: Change[], transaction: Transaction) {
  if (changes.length === 0) return;
  await changeRecords(sequelize).bulkCreate(
    changes.map((c) => c.record),
    { transaction, hooks: false, validate: false },
  );
  const events = changes.map((c) => c.event);
  // a transaction deferring its events (a bulk import) stages them: appended at its end
  if (defersEvents(transaction)) await stageEvents(sequelize, transaction, events);
  else await appendEvents(sequelize, transaction, events);
}

function attachHooks(model: EntityModel, sequelize: Sequelize) {
  // before validation, which would otherwise refuse the missing audit fields
  model.addHook('beforeValidate', (instance: EntityInstance) => {
    if (!instance.isNewRecord) return;
    const { actor } = contextOrSystem();
    instance.setDataValue('createdBy', actor);
    instance.setDataValue('updatedBy', actor);
  });
  model.addHook('beforeCreate', (_instance: EntityInstance, options: CreateOptions) => {
    requireTransaction(model, options);
  });
  model.addHook('afterCreate', async (instance: EntityInstance, options: CreateOptions) => {
    const rec = record(model, instance, 'create', diff(model, instance, true));
    await insertRecords(sequelize, [rec], requireTransaction(model, options));
  });

  model.addHook('beforeBulkCreate', (instances: EntityInstance[], options: CreateOptions & WithPending) => {
    requireTransaction(model, options);
    // one INSERT of records in afterBulkCreate; per-row hooks would write them twice
    Reflect.set(options, 'individualHooks', false);
    const { actor } = contextOrSystem();
    for (const instance of instances) {
      instance.setDataValue('createdBy', actor);
      instance.setDataValue('updatedBy', actor);
    }
  });
  model.addHook('afterBulkCreate', async (instances: EntityInstance[], options: CreateOptions) => {
    const rows = instances.map((i) => record(model, i, 'create', diff(model, i, true)));
    await insertRecords(sequelize, rows, requireTransaction(model, options));
  });

  model.addHook('beforeUpdate', (instance: EntityInstance, options: InstanceUpdateOptions & WithPending) => {
    requireTransaction(model, options);
    const { actor } = contextOrSystem();
    instance.setDataValue('updatedBy', actor);
    const changed = instance.changed();
    if (changed && changed.includes('deletedAt')) {
      instance.setDataValue('deletedBy', instance.getDataValue('deletedAt') ? actor : null);
    }
  });
  model.addHook(
    'afterUpdate',
    async (
      instance: EntityInstance,
      options: InstanceUpdateOptions & WithPending & { event?: DomainEventOverride },
    ) => {
      const changes = diff(model, instance, false);
      if (Object.keys(changes).length === 0) return;
      const rec = record(model, instance, actionOf(changes), changes, options.event);
      const pending = options[PENDING];
      if (pending) pending.push(rec);
      else await insertRecords(sequelize, [rec], requireTransaction(model, options));
    },
  );

  // Static Model.update: per-row hooks are forced on so that every affected row gets its record.
  model.addHook(
    'beforeBulkUpdate',
    (options: UpdateOptions<Attrs> & { attributes?: Attrs } & WithPending) => {
      requireTransaction(model, options);
      const { actor } = contextOrSystem();
      options.individualHooks = true;
      options[PENDING] = [];
      const attributes = options.attributes ?? {};
      attributes.updatedBy = actor;
      attributes.version = sequelize.literal('"version" + 1');
      if ('deletedAt' in attributes) attributes.deletedBy = attributes.deletedAt ? actor : null;
      const fields = new Set<string>(Array.isArray(options.fields) ? options.fields.map(String) : []);
      for (const f of ['updatedBy', 'version', 'deletedBy']) if (f in attributes) fields.add(f);
      Reflect.set(options, 'fields', [...fields]);
    },
  );
  model.addHook('afterBulkUpdate', async (options: UpdateOptions<Attrs> & WithPending) => {
    const rows = options[PENDING] ?? [];
    delete options[PENDING];
    await insertRecords(sequelize, rows, requireTransaction(model, options));
  });

  // Sequelize's destroy()/restore() write only deletedAt (and restore would ignore the deletion batch):
  // soft delete and restore go through shared/data, as updates the hooks above record.
  const refuse = (what: string) => () => {
    throw new Error(
      `${model.name}.${what}: soft delete and restore go through shared/data, not Sequelize's ${what}`,
    );
  };
  model.addHook('beforeDestroy', refuse('destroy'));
  model.addHook('beforeBulkDestroy', (_options: DestroyOptions) => refuse('destroy')());
  model.addHook('beforeRestore', refuse('restore'));
  model.addHook('beforeBulkRestore', refuse('restore'));
}
