import { randomUUID } from 'node:crypto';
import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { DomainEvent, NewEvent } from './envelope';
import { upcast } from './upcasters';

/*
 * The event store: an append-only table with a global position.
 *
 * A bigserial position is taken before commit, so transactions committing out of order would let a
 * reader that follows `position > last` skip an event that commits later with a lower position.
 * Every appending transaction therefore takes one transaction-scoped advisory lock just before it
 * appends (the last thing a write does, so the lock is held only until its commit): positions are
 * handed out in commit order and a follower never skips. The cost is that event appends commit one
 * at a time, which the benchmark measures.
 */
const APPEND_LOCK = 8_111_992; // any constant shared by every writer

const locked = new WeakSet<Transaction>();

interface EventRow {
  position: string;
  id: string;
  type: string;
  aggregate_type: string;
  aggregate_id: string;
  aggregate_version: number;
  occurred_at: Date;
  actor: string;
  request_id: string | null;
  causation_id: string | null;
  schema_version: number;
  data: Record<string, unknown>;
}

const toEvent = (r: EventRow): DomainEvent =>
  upcast({
    id: r.id,
    type: r.type,
    aggregateType: r.aggregate_type,
    aggregateId: r.aggregate_id,
    aggregateVersion: r.aggregate_version,
    position: Number(r.position),
    occurredAt: r.occurred_at.toISOString(),
    actor: r.actor,
    requestId: r.request_id,
    causationId: r.causation_id,
    schemaVersion: r.schema_version,
    data: r.data,
  });

/** The lock every appending transaction takes just before it appends (held until its commit). */
export async function takeAppendLock(sequelize: Sequelize, t: Transaction): Promise<void> {
  if (locked.has(t)) return;
  await sequelize.query('SELECT pg_advisory_xact_lock(:k)', {
    replacements: { k: APPEND_LOCK },
    transaction: t,
  });
  locked.add(t);
}

/** A new event as a domain_events row (jsonb_to_recordset's columns); `ord` keeps the given order. */
export function toRow(e: NewEvent, ord: number) {
  return {
    id: e.id || randomUUID(),
    type: e.type,
    aggregate_type: e.aggregateType,
    aggregate_id: e.aggregateId,
    aggregate_version: e.aggregateVersion,
    occurred_at: (e.occurredAt ?? new Date()).toISOString(),
    actor: e.actor,
    request_id: e.requestId,
    causation_id: e.causationId,
    schema_version: e.schemaVersion,
    data: e.data,
    ord,
  };
}

/** The columns of a row given to jsonb_to_record(set), for both appends and deferred appends. */
export const ROW_COLUMNS = `id uuid, type text, aggregate_type text, aggregate_id uuid,
       aggregate_version int, occurred_at timestamptz, actor text, request_id text, causation_id text,
       schema_version int, data jsonb, ord int`;

/**
 * Appends events and their outbox rows in the caller's transaction. A second event for the same
 * aggregate version fails with a unique violation (optimistic concurrency), which the data layer
 * turns into CONFLICT.
 */
export async function appendEvents(
  sequelize: Sequelize,
  t: Transaction,
  events: NewEvent[],
): Promise<DomainEvent[]> {
  if (events.length === 0) return [];
  await takeAppendLock(sequelize, t);
  // one INSERT for the lot, through jsonb_to_recordset: bulk writes stay one round trip
  const inserted = await sequelize.query<EventRow>(
    `INSERT INTO domain_events (id, type, aggregate_type, aggregate_id, aggregate_version, occurred_at, actor,
       request_id, causation_id, schema_version, data)
     SELECT id, type, aggregate_type, aggregate_id, aggregate_version, occurred_at, actor, request_id, causation_id,
       schema_version, data
     FROM jsonb_to_recordset(:rows::jsonb) AS x(${ROW_COLUMNS})
     ORDER BY ord
     RETURNING *`,
    {
      replacements: {
        rows: JSON.stringify(events.map(toRow)),
      },
      type: QueryTypes.SELECT,
      transaction: t,
    },
  );
  const stored = inserted.map(toEvent).sort((a, b) => a.position - b.position);
  await sequelize.query(
    `INSERT INTO outbox (event_id, aggregate_id, routing_key, payload)
     SELECT (e->>'id')::uuid, (e->>'aggregateId')::uuid, e->>'type', e FROM jsonb_array_elements(:events::jsonb) AS e;
     SELECT pg_notify('arxos_outbox', '')`,
    { replacements: { events: JSON.stringify(stored) }, transaction: t },
  );
  return stored;
}

export interface EventQuery {
  /** events after this position */
  after?: number;
  aggregateId?: string;
  aggregateType?: string;
  /** one type or several */
  type?: string | string[];
  limit?: number;
  /** an SQL condition on domain_events the caller built with escaped values (authorization) */
  visible?: string;
}

/** Events in position order, upcast to their current schema. */
export async function readEvents(sequelize: Sequelize, q: EventQuery = {}): Promise<DomainEvent[]> {
  const where: string[] = ['position > :after'];
  const types = q.type === undefined ? [] : Array.isArray(q.type) ? q.type : [q.type];
  if (q.aggregateId) where.push('aggregate_id = :aggregateId');
  if (q.aggregateType) where.push('aggregate_type = :aggregateType');
  if (types.length > 0) where.push('type IN (:types)');
  if (q.visible) where.push(q.visible);
  const rows = await sequelize.query<EventRow>(
    `SELECT * FROM domain_events WHERE ${where.join(' AND ')} ORDER BY position LIMIT :limit`,
    {
      replacements: {
        after: q.after ?? 0,
        aggregateId: q.aggregateId ?? null,
        aggregateType: q.aggregateType ?? null,
        types,
        limit: Math.min(Math.max(q.limit ?? 100, 1), 1000),
      },
      type: QueryTypes.SELECT,
    },
  );
  return rows.map(toEvent);
}
