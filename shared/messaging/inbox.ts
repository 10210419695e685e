import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import { runInContext, SYSTEM_ACTOR } from '../context';
import { withTransaction } from '../db';
import { upcast, type DomainEvent } from '../events';
import type { Delivery } from './message-queue';

/**
 * Wraps an event handler so that an event has its effect once per consumer however often it is
 * delivered: the handler runs in a transaction that also records (event id, consumer) in the inbox;
 * a redelivery finds the row and does nothing. The handler runs as the event's actor with the event
 * as causation, so what it writes is attributed and traceable.
 */
export function idempotent(
  sequelize: Sequelize,
  consumer: string,
  handler: (event: DomainEvent, t: Transaction) => Promise<void>,
): (delivery: Delivery) => Promise<void> {
  return async (delivery) => {
    const event = upcast(JSON.parse(delivery.content.toString('utf8')) as DomainEvent);
    await withTransaction(sequelize, async (t) => {
      const inserted = await sequelize.query(
        'INSERT INTO inbox (event_id, consumer) VALUES (:id, :consumer) ON CONFLICT DO NOTHING RETURNING event_id',
        { replacements: { id: event.id, consumer }, type: QueryTypes.SELECT, transaction: t },
      );
      if (inserted.length === 0) return; // done before
      await runInContext(
        { actor: event.actor || SYSTEM_ACTOR, requestId: event.requestId ?? event.id, causationId: event.id },
        () => handler(event, t),
      );
    });
  };
}
