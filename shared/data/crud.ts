import { randomUUID } from 'node:crypto';
import { Op, QueryTypes, type FindOptions, type Sequelize, type WhereOptions } from 'sequelize';
import { currentContext, SYSTEM_ACTOR } from '../context';
import { conflict, fieldError, notFound, preconditionFailed } from '../errors';
import {
  changeRecordModelFor,
  plainGeoJson,
  withTransaction,
  type Attrs,
  type EntityInstance,
  type Transaction,
} from '../db';
import { decodeCursor, encodeCursor, keysetWhere } from './cursor';
import { toDomainError } from './db-errors';
import { parseListQuery, type ListSpec, type QueryInput } from './query';
import { fieldsOf, type Resource } from './resource';
import { isUuid, validateBody } from './validate';

export interface Page<T> {
  data: T[];
  page: { limit: number; nextCursor: string | null; hasMore: boolean };
  total?: number;
}

export interface WriteOptions {
  /** the version the caller last read (If-Match); a different current version is 412 */
  expectedVersion?: number;
}

export interface DeleteOptions extends WriteOptions {
  cascade?: boolean;
}

export interface DeleteResult {
  batchId: string;
  /** rows deleted per entity type, the root included */
  deleted: Record<string, number>;
}

export interface HistoryEntry {
  id: string;
  entityType: string;
  entityId: string;
  action: string;
  actor: string;
  requestId: string | null;
  at: string;
  changes: Record<string, [unknown, unknown]>;
}

/** What a committed write changed: per resource (registry key), the ids of the rows it wrote. */
export type Committed = Map<string, Set<string>>;

export interface DataAccessOptions {
  sequelize: Sequelize;
  resources: Record<string, Resource>;
  txRetries?: number;
  /** called after each write has committed (cache invalidation) */
  onCommitted?: (changed: Committed) => void | Promise<void>;
}

/** A value known to be an id (validated before) as text, for queries and messages. */
const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Fields a response never shows: internal bookkeeping and whatever a resource hides. */
const INTERNAL = new Set(['deletionBatchId']);

/** The API shape of a row: a whitelist of the resource's fields, GeoJSON without Sequelize's `crs`. */
export function toOutput(resource: Resource, row: Attrs): Attrs {
  const out: Attrs = {};
  for (const [key, spec] of Object.entries(fieldsOf(resource))) {
    if (spec.hidden || spec.writeOnly || INTERNAL.has(key)) continue;
    const value = row[key];
    if ((key === 'deletedAt' || key === 'deletedBy') && value == null) continue;
    out[key] =
      spec.type === 'point' || spec.type === 'polygon' ? plainGeoJson(value ?? null) : (value ?? null);
  }
  if (row.distance !== undefined) out.distance = Number(row.distance);
  return out;
}

export function createDataAccess(options: DataAccessOptions) {
  const { sequelize, resources } = options;

  const resourceOf = (name: string): Resource => {
    const r = resources[name];
    if (!r) throw new Error(`unknown resource ${name}`);
    return r;
  };

  /** Runs a write; `touch` records what it changed, reported once the transaction has committed. */
  async function tx<T>(
    resource: Resource,
    work: (t: Transaction, touch: (name: string, ids: string[]) => void) => Promise<T>,
  ): Promise<T> {
    let changed: Committed = new Map();
    try {
      const result = await withTransaction(
        sequelize,
        (t) => {
          changed = new Map(); // a retried attempt starts over
          const touch = (name: string, ids: string[]) => {
            const set = changed.get(name) ?? new Set<string>();
            for (const id of ids) set.add(id);
            changed.set(name, set);
          };
          return work(t, touch);
        },
        { retries: options.txRetries },
      );
      await options.onCommitted?.(changed);
      return result;
    } catch (err) {
      throw toDomainError(err, resource);
    }
  }

  const checkId = (id: unknown): string => {
    if (!isUuid(id)) throw fieldError('id', 'must be a UUID');
    return id;
  };

  /**
   * The rows the caller may see, from the resource's `visibility` and the request context: object-
   * level authorization inside the owning service. System work (no signed-in user) sees everything.
   */
  function visible(resource: Resource): WhereOptions {
    const ctx = currentContext();
    if (!resource.visibility || !ctx?.role || ctx.actor === SYSTEM_ACTOR) return {};
    return resource.visibility({ id: ctx.actor, role: ctx.role }) ?? {};
  }

  /** A row the caller may see, or NOT_FOUND (an invisible row is not told apart from a missing one). */
  async function findVisible(
    resource: Resource,
    id: string,
    opts: { t?: Transaction; lock?: boolean; deleted?: boolean } = {},
  ): Promise<EntityInstance> {
    const row = await resource.model.findOne({
      where: { [Op.and]: [{ id }, visible(resource)] },
      transaction: opts.t,
      lock: opts.lock && opts.t ? opts.t.LOCK.UPDATE : undefined,
      paranoid: !opts.deleted,
    });
    if (!row) throw notFound(resource.title, id);
    return row;
  }

  const findLive = (resource: Resource, id: string, t?: Transaction, lock = false) =>
    findVisible(resource, id, { t, lock });

  function checkVersion(resource: Resource, row: EntityInstance, opts: WriteOptions) {
    const current = row.getDataValue('version');
    if (opts.expectedVersion !== undefined && current !== opts.expectedVersion) {
      throw preconditionFailed(
        `${resource.title} is at version ${String(current)}, not ${opts.expectedVersion}; read it again and retry`,
      );
    }
  }

  async function checkParentsLive(resource: Resource, values: Attrs, t: Transaction) {
    for (const parent of resource.parents ?? []) {
      const id = values[parent.foreignKey];
      if (id === null || id === undefined) continue;
      const found = await parent.model.count({ where: { id: text(id) }, transaction: t });
      if (found === 0) throw fieldError(parent.foreignKey, `${parent.title} ${text(id)} does not exist`);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  async function get(name: string, id: unknown): Promise<Attrs> {
    const resource = resourceOf(name);
    try {
      const row = await findLive(resource, checkId(id));
      return toOutput(resource, row.get({ plain: true }));
    } catch (err) {
      throw toDomainError(err, resource);
    }
  }

  function spatialSql(resource: Resource, spec: ListSpec) {
    const attrs = resource.model.getAttributes();
    const column = (field: string) => `"${attrs[field]?.field ?? field}"`;
    const point = (lng: number, lat: number) =>
      `ST_SetSRID(ST_MakePoint(${Number(lng)}, ${Number(lat)}), 4326)`;
    const where: WhereOptions[] = [];
    let distance: string | undefined;
    const s = resource.spatial ?? {};
    if (spec.near && s.near) {
      const p = `${point(spec.near.lng, spec.near.lat)}::geography`;
      distance = `ST_Distance(${column(s.near)}, ${p})`;
      where.push(sequelize.literal(`ST_DWithin(${column(s.near)}, ${p}, ${Number(spec.near.radius)})`));
    }
    if (spec.bbox && s.bbox) {
      const [a, b, c, d] = spec.bbox.map(Number);
      where.push(
        sequelize.literal(`(${column(s.bbox)})::geometry && ST_MakeEnvelope(${a}, ${b}, ${c}, ${d}, 4326)`),
      );
    }
    if (spec.containsPoint && s.containsPoint) {
      const p = point(spec.containsPoint.lng, spec.containsPoint.lat);
      where.push(sequelize.literal(`ST_Covers(${column(s.containsPoint)}, ${p})`));
    }
    return { where, distance, column };
  }

  /**
   * A page of the resource, filtered by API.md's grammar plus `scope` (a parent's id from a nested
   * path, or an authorization filter).
   */
  async function list(name: string, query: QueryInput, scope: WhereOptions = {}): Promise<Page<Attrs>> {
    const resource = resourceOf(name);
    try {
      const spec = parseListQuery(resource, query);
      const spatial = spatialSql(resource, spec);
      const where: WhereOptions[] = [scope, visible(resource), ...spec.where, ...spatial.where];
      if (spec.deleted === 'only') where.push({ deletedAt: { [Op.not]: null } });
      const base: WhereOptions = { [Op.and]: where };

      const expr = (field: string) =>
        field === 'distance' && spatial.distance
          ? sequelize.literal(spatial.distance)
          : sequelize.col(spatial.column(field).slice(1, -1));
      const fields = fieldsOf(resource);
      const convert = (field: string, v: unknown) =>
        fields[field]?.type === 'datetime' && typeof v === 'string' ? new Date(v) : v;
      const pageWhere: WhereOptions[] = [base];
      if (spec.cursor) {
        pageWhere.push(
          keysetWhere(sequelize, spec.sort, decodeCursor(spec.cursor, spec.sort), expr, convert),
        );
      }

      const find: FindOptions<Attrs> = {
        where: { [Op.and]: pageWhere },
        order: spec.sort.map((k) => [expr(k.field), k.desc ? 'DESC NULLS FIRST' : 'ASC NULLS LAST']),
        limit: spec.limit + 1,
        paranoid: spec.deleted === 'exclude',
      };
      if (spatial.distance)
        find.attributes = { include: [[sequelize.literal(spatial.distance), 'distance']] };
      const rows = (await resource.model.findAll(find)).map((r) => r.get({ plain: true }));
      const hasMore = rows.length > spec.limit;
      const pageRows = rows.slice(0, spec.limit);
      const last = pageRows[pageRows.length - 1];
      const page: Page<Attrs> = {
        data: pageRows.map((r) => toOutput(resource, r)),
        page: {
          limit: spec.limit,
          nextCursor:
            hasMore && last
              ? encodeCursor(
                  spec.sort,
                  spec.sort.map((k) => last[k.field]),
                )
              : null,
          hasMore,
        },
      };
      if (spec.count)
        page.total = await resource.model.count({ where: base, paranoid: spec.deleted === 'exclude' });
      return page;
    } catch (err) {
      throw toDomainError(err, resource);
    }
  }

  async function history(name: string, id: unknown, query: QueryInput = {}): Promise<Page<HistoryEntry>> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    const limitText = query.limit === undefined ? '50' : text(query.limit);
    const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= 500)) throw fieldError('limit', 'must be a whole number from 1 to 500');
    await findVisible(resource, entityId, { deleted: true });

    const Records = changeRecordModelFor(sequelize);
    const sort = [
      { field: 'at', desc: true, nullable: false },
      { field: 'id', desc: true, nullable: false },
    ];
    const where: WhereOptions[] = [{ entityType: resource.name, entityId }];
    if (query.cursor !== undefined && query.cursor !== '') {
      const values = decodeCursor(text(query.cursor), sort);
      where.push(
        keysetWhere(
          sequelize,
          sort,
          values,
          (f) => sequelize.col(f),
          (f, v) => (f === 'at' && typeof v === 'string' ? new Date(v) : v),
        ),
      );
    }
    const rows = await Records.findAll({
      where: { [Op.and]: where },
      order: [
        ['at', 'DESC'],
        ['id', 'DESC'],
      ],
      limit: limit + 1,
    });
    const plain = rows.map((r) => r.get({ plain: true }));
    const hasMore = plain.length > limit;
    const data = plain.slice(0, limit).map((r): HistoryEntry => ({
      id: String(r.id),
      entityType: r.entityType,
      entityId: r.entityId,
      action: r.action,
      actor: r.actor,
      requestId: r.requestId ?? null,
      at: r.at.toISOString(),
      changes: r.changes,
    }));
    const last = plain[limit - 1];
    return {
      data,
      page: { limit, nextCursor: hasMore && last ? encodeCursor(sort, [last.at, last.id]) : null, hasMore },
    };
  }

  // ---- writes --------------------------------------------------------------------------------

  /** Structure is checked in validateBody; validity (no self-intersection...) needs PostGIS. */
  async function checkGeometry(resource: Resource, values: Attrs, t: Transaction) {
    for (const [field, spec] of Object.entries(resource.fields)) {
      const value = values[field];
      if (spec.type !== 'polygon' || value === null || value === undefined) continue;
      const [row] = await sequelize.query<{ reason: string }>(
        'SELECT ST_IsValidReason(ST_GeomFromGeoJSON(:g)) AS reason',
        { replacements: { g: JSON.stringify(value) }, type: QueryTypes.SELECT, transaction: t },
      );
      if (row && row.reason !== 'Valid Geometry')
        throw fieldError(field, `is not a valid polygon: ${row.reason}`);
    }
  }

  async function create(name: string, body: unknown): Promise<Attrs> {
    const resource = resourceOf(name);
    const values = validateBody(resource, body, 'create');
    return tx(resource, async (t, touch) => {
      await checkGeometry(resource, values, t);
      await resource.prepare?.(values, { mode: 'create', transaction: t });
      await checkParentsLive(resource, values, t);
      const row = await resource.model.create(values, { transaction: t });
      touch(name, [text(row.getDataValue('id'))]);
      return toOutput(resource, row.get({ plain: true }));
    });
  }

  async function update(name: string, id: unknown, body: unknown, opts: WriteOptions = {}): Promise<Attrs> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    const values = validateBody(resource, body, 'update');
    return tx(resource, async (t, touch) => {
      const row = await findLive(resource, entityId, t, true);
      checkVersion(resource, row, opts);
      touch(name, [entityId]);
      const current = row.get({ plain: true });
      await checkGeometry(resource, values, t);
      await resource.prepare?.(values, { mode: 'update', transaction: t, current });
      await checkParentsLive(resource, values, t);
      row.set(values);
      await row.save({ transaction: t });
      // computed columns (a room's area) are the database's: read the row back
      await row.reload({ transaction: t });
      return toOutput(resource, row.get({ plain: true }));
    });
  }

  /** Soft-deletes live descendants of `parentIds` under `batchId`, depth first; counts per type. */
  async function cascade(
    resource: Resource,
    parentIds: string[],
    batchId: string,
    deletedAt: Date,
    t: Transaction,
    counts: Record<string, number>,
    touch: (name: string, ids: string[]) => void,
  ) {
    for (const rel of resource.children ?? []) {
      const child = resourceOf(rel.resource);
      const rows = await child.model.findAll({
        attributes: ['id'],
        where: { [rel.foreignKey]: { [Op.in]: parentIds } },
        transaction: t,
        lock: t.LOCK.UPDATE,
      });
      const ids = rows.map((r) => String(r.getDataValue('id')));
      if (ids.length === 0) continue;
      await cascade(child, ids, batchId, deletedAt, t, counts, touch);
      touch(rel.resource, ids);
      await child.model.update(
        { deletedAt, deletionBatchId: batchId },
        { where: { id: { [Op.in]: ids } }, transaction: t },
      );
      counts[child.name] = (counts[child.name] ?? 0) + ids.length;
    }
  }

  async function remove(name: string, id: unknown, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    return tx(resource, async (t, touch) => {
      const row = await findLive(resource, entityId, t, true);
      checkVersion(resource, row, opts);
      touch(name, [entityId]);
      if (!opts.cascade) {
        for (const rel of resource.children ?? []) {
          const child = resourceOf(rel.resource);
          const live = await child.model.count({ where: { [rel.foreignKey]: entityId }, transaction: t });
          if (live > 0) {
            throw conflict(
              `${resource.title} still has ${live} live ${child.name}${live === 1 ? '' : 's'}; delete them first or use cascade=true`,
              [{ field: 'cascade', message: 'must be true to delete the children too' }],
            );
          }
        }
      }
      const batchId = randomUUID();
      const deletedAt = new Date();
      const counts: Record<string, number> = {};
      await cascade(resource, [entityId], batchId, deletedAt, t, counts, touch);
      // setDataValue: Sequelize's set() ignores its timestamp attributes, deletedAt among them
      row.setDataValue('deletedAt', deletedAt);
      row.setDataValue('deletionBatchId', batchId);
      await row.save({ transaction: t });
      counts[resource.name] = (counts[resource.name] ?? 0) + 1;
      return { batchId, deleted: counts };
    });
  }

  /** Restores the entity and exactly the rows its deletion batch took with it. */
  async function restore(name: string, id: unknown): Promise<Attrs> {
    const resource = resourceOf(name);
    const entityId = checkId(id);
    return tx(resource, async (t, touch) => {
      const row = await findVisible(resource, entityId, { t, lock: true, deleted: true });
      if (row.getDataValue('deletedAt') === null)
        throw conflict(`${resource.title} ${entityId} is not deleted`);
      const current = row.get({ plain: true });
      for (const parent of resource.parents ?? []) {
        const parentId = current[parent.foreignKey];
        if (parentId === null || parentId === undefined) continue;
        const live = await parent.model.count({ where: { id: text(parentId) }, transaction: t });
        if (live === 0) {
          throw conflict(
            `its ${parent.title.toLowerCase()} ${text(parentId)} is deleted; restore that first`,
            [{ field: parent.foreignKey, message: 'refers to a deleted entity' }],
          );
        }
      }
      const batchId = row.getDataValue('deletionBatchId');
      row.setDataValue('deletedAt', null);
      row.setDataValue('deletionBatchId', null);
      await row.save({ transaction: t });
      touch(name, [entityId]);
      if (typeof batchId === 'string') await restoreBatch(resource, batchId, t, touch);
      return toOutput(resource, row.get({ plain: true }));
    });
  }

  async function restoreBatch(
    resource: Resource,
    batchId: string,
    t: Transaction,
    touch: (name: string, ids: string[]) => void,
  ) {
    for (const rel of resource.children ?? []) {
      const child = resourceOf(rel.resource);
      // parents first, so that no restored row ever points at a deleted one
      const [, rows = []] = await child.model.update(
        { deletedAt: null, deletionBatchId: null },
        { where: { deletionBatchId: batchId }, paranoid: false, transaction: t, returning: true },
      );
      touch(
        rel.resource,
        rows.map((r) => text(r.getDataValue('id'))),
      );
      await restoreBatch(child, batchId, t, touch);
    }
  }

  return { resource: resourceOf, get, list, history, create, update, remove, restore };
}

export type DataAccess = ReturnType<typeof createDataAccess>;
