import type { Sequelize, Transaction } from 'sequelize';
import type { NewEvent } from './envelope';
import { ROW_COLUMNS, takeAppendLock, toRow } from './store';

/*
 * Deferred appends, for one long transaction that writes many rows (a bulk import): the events its
 * writes produce wait in a temporary table and go to the event log in one statement at the end, so
 * the append lock (which orders positions by commit, see store.ts) is held for that statement only,
 * not for the whole import while every other writer of the platform waits behind it.
 */

const deferring = new WeakSet<Transaction>();

/** From now on, events written in `t` are staged; flushDeferredEvents appends them. */
export async function deferEvents(sequelize: Sequelize, t: Transaction): Promise<void> {
  await sequelize.query(
    'CREATE TEMP TABLE deferred_events (ord bigserial PRIMARY KEY, e jsonb NOT NULL) ON COMMIT DROP',
    { transaction: t },
  );
  deferring.add(t);
}

export const defersEvents = (t: Transaction) => deferring.has(t);

/** Stages events of a deferring transaction (no lock). */
export async function stageEvents(sequelize: Sequelize, t: Transaction, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await sequelize.query(
    'INSERT INTO deferred_events (e) SELECT value FROM jsonb_array_elements(:rows::jsonb)',
    {
      replacements: { rows: JSON.stringify(events.map(toRow)) },
      transaction: t,
    },
  );
}

/**
 * Appends the staged events in their order, with their outbox rows (the envelope store.ts's readers
 * give: camelCase, occurredAt as RFC 3339 with milliseconds), under the append lock.
 */
export async function flushDeferredEvents(sequelize: Sequelize, t: Transaction): Promise<void> {
  deferring.delete(t);
  await takeAppendLock(sequelize, t);
  await sequelize.query(
    `WITH stored AS (
       INSERT INTO domain_events (id, type, aggregate_type, aggregate_id, aggregate_version, occurred_at, actor,
         request_id, causation_id, schema_version, data)
       SELECT x.id, x.type, x.aggregate_type, x.aggregate_id, x.aggregate_version, x.occurred_at, x.actor,
         x.request_id, x.causation_id, x.schema_version, x.data
       FROM deferred_events d CROSS JOIN LATERAL jsonb_to_record(d.e) AS x(${ROW_COLUMNS})
       ORDER BY d.ord
       RETURNING *)
     INSERT INTO outbox (event_id, aggregate_id, routing_key, payload)
     SELECT id, aggregate_id, type, jsonb_build_object(
       'id', id, 'type', type, 'aggregateType', aggregate_type, 'aggregateId', aggregate_id,
       'aggregateVersion', aggregate_version, 'position', position,
       'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
       'actor', actor, 'requestId', request_id, 'causationId', causation_id,
       'schemaVersion', schema_version, 'data', data)
     FROM stored ORDER BY position`,
    { transaction: t },
  );
  await sequelize.query("SELECT pg_notify('arxos_outbox', '')", { transaction: t });
}
