import { Op, type Sequelize, type WhereOptions } from 'sequelize';
import { currentContext, SYSTEM_ACTOR } from '../context';
import { fieldError, notFound } from '../errors';
import {
  plainGeoJson,
  withTransaction,
  type Attrs,
  type DomainEventOverride,
  type EntityInstance,
  type Transaction,
} from '../db';
import { toDomainError } from './db-errors';
import { fieldsOf, type Caller, type Resource } from './resource';
import { isUuid } from './validate';

export interface Page<T> {
  data: T[];
  page: { limit: number; nextCursor: string | null; hasMore: boolean };
  total?: number;
}

export interface WriteOptions {
  /** the version the caller last read (If-Match); a different current version is 412 */
  expectedVersion?: number;
}

export interface UpdateOptions extends WriteOptions {
  /**
   * Values the service sets itself after its own rules (a device's status), never from a client
   * body: they bypass the body's read-only check. `check` sees the current row first and may refuse.
   */
  set?: Attrs;
  check?: (current: Attrs) => void;
  /** the domain event this write means, instead of `<entity>.updated` */
  event?: DomainEventOverride;
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
  /** RPC to other services, for resources whose references live elsewhere */
  call?: Caller;
}

/** A value known to be an id (validated before) as text, for queries and messages. */
export const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

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

/** What reads and writes share: the registry, transactions with commit reporting, visibility. */
export function createCore(options: DataAccessOptions) {
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

  const call: Caller =
    options.call ?? ((action) => Promise.reject(new Error(`no RPC configured: cannot call ${action}`)));

  return { sequelize, options, resourceOf, tx, checkId, visible, findVisible, findLive, call };
}

export type Core = ReturnType<typeof createCore>;
