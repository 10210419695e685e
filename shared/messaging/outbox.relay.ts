import { Client } from 'pg';
import { QueryTypes, type Sequelize } from 'sequelize';
import type { Log } from '../logging';
import type { MessageQueue } from './message-queue';
import { outboxPublished, trackRelay } from './metrics';

/*
 * Publishes outbox rows to `arxos.events` (routing key = event type) and marks them sent only after
 * the broker confirms them. Several relays may run (one per service process): each takes a batch with
 * FOR UPDATE SKIP LOCKED, and a row is only taken when no older unsent row of the same aggregate is
 * outside the batch, so events of one aggregate are published in order. A crash between publish and
 * commit publishes a row again: consumers are idempotent (inbox), delivery is at least once.
 */

interface OutboxRow {
  id: string;
  event_id: string;
  aggregate_id: string;
  routing_key: string;
  payload: Record<string, unknown>;
  attempts: number;
}

export interface RelayStats {
  /** rows not yet confirmed by the broker */
  backlog: number;
  /** age of the oldest of them, in seconds (0 when none) */
  oldestAgeS: number;
  published: number;
  failures: number;
}

export interface RelayOptions {
  batchSize?: number;
  /** how often to look when no notification came */
  pollMs?: number;
  databaseUrl: string;
  /** the topic exchange (EVENTS_EXCHANGE) */
  exchange: string;
}

export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private listener?: Client;
  private published = 0;
  private untrack?: () => void;
  private failures = 0;

  constructor(
    private readonly sequelize: Sequelize,
    private readonly mq: MessageQueue,
    private readonly log: Log,
    private readonly opts: RelayOptions,
  ) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.untrack = trackRelay(this);
    await this.mq.assertExchange(this.opts.exchange);
    await this.listen();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.untrack?.();
    this.wake?.();
    await this.loop;
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
  }

  /** LISTEN for the NOTIFY every append sends, so new events go out at once rather than at the next poll. */
  private async listen() {
    try {
      const client = new Client({
        connectionString: this.opts.databaseUrl,
        application_name: 'arxos-outbox-listener',
      });
      client.on('notification', () => this.wake?.());
      client.on('error', (err) => {
        this.log.warn('outbox: notification connection lost; polling only until it is back', {
          err: err.message,
        });
        this.listener = undefined;
        setTimeout(() => void (this.running ? this.listen() : undefined), 2000).unref();
      });
      await client.connect();
      await client.query('LISTEN arxos_outbox');
      this.listener = client;
    } catch (err) {
      this.log.warn('outbox: cannot LISTEN; polling only', { err: String(err) });
    }
  }

  private async run() {
    let backoff = 0;
    while (this.running) {
      let sent = 0;
      try {
        const result = this.mq.connected ? await this.relayBatch() : { sent: 0, failed: 0 };
        sent = result.sent;
        if (result.failed > 0) throw new Error(`${result.failed} events not confirmed by the broker`);
        backoff = 0;
      } catch (err) {
        this.failures += 1;
        backoff = Math.min(5000, Math.max(100, backoff * 2));
        this.log.warn('outbox: publishing failed; backing off', { err: String(err), backoffMs: backoff });
      }
      if (sent > 0 && backoff === 0) continue; // more may be waiting
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff || (this.mq.connected ? (this.opts.pollMs ?? 1000) : 500));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /**
   * One batch: take, publish in order per aggregate, wait for confirms, mark the confirmed ones sent
   * and the refused ones for a later attempt, in one commit.
   */
  async relayBatch(): Promise<{ sent: number; failed: number }> {
    return this.sequelize.transaction(async (t) => {
      const rows = await this.sequelize.query<OutboxRow>(
        `WITH batch AS (
           SELECT id, aggregate_id FROM outbox
           WHERE sent_at IS NULL AND next_attempt_at <= now()
           ORDER BY id LIMIT :limit
           FOR UPDATE SKIP LOCKED
         )
         SELECT o.id, o.event_id, o.aggregate_id, o.routing_key, o.payload, o.attempts
         FROM outbox o JOIN batch b ON b.id = o.id
         WHERE NOT EXISTS (
           SELECT 1 FROM outbox older
           WHERE older.aggregate_id = o.aggregate_id AND older.sent_at IS NULL AND older.id < o.id
             AND older.id NOT IN (SELECT id FROM batch))
         ORDER BY o.id`,
        { replacements: { limit: this.opts.batchSize ?? 200 }, type: QueryTypes.SELECT, transaction: t },
      );
      if (rows.length === 0) return { sent: 0, failed: 0 };
      const sent: string[] = [];
      const failed = new Map<string, string>();
      const blocked = new Set<string>(); // aggregates with an earlier failure in this batch
      await Promise.all(
        groupBy(rows, (r) => r.aggregate_id).map(async (group) => {
          for (const row of group) {
            if (blocked.has(row.aggregate_id)) break;
            try {
              await this.mq.publish(this.opts.exchange, row.routing_key, row.payload, {
                messageId: row.event_id,
                headers: { 'x-event-type': row.routing_key },
              });
              sent.push(row.id);
            } catch (err) {
              failed.set(row.id, String(err));
              blocked.add(row.aggregate_id);
            }
          }
        }),
      );
      if (sent.length > 0) {
        await this.sequelize.query(
          'UPDATE outbox SET sent_at = now(), attempts = attempts + 1 WHERE id IN (:ids)',
          {
            replacements: { ids: sent },
            transaction: t,
          },
        );
      }
      for (const [id, error] of failed) {
        await this.sequelize.query(
          `UPDATE outbox SET attempts = attempts + 1, last_error = :error,
             next_attempt_at = now() + least(interval '30 seconds', interval '100 milliseconds' * power(2, attempts))
           WHERE id = :id`,
          { replacements: { id, error: error.slice(0, 500) }, transaction: t },
        );
      }
      this.published += sent.length;
      outboxPublished.inc(sent.length);
      return { sent: sent.length, failed: failed.size };
    });
  }

  async stats(): Promise<RelayStats> {
    const [row] = await this.sequelize.query<{ backlog: string; oldest: number | null }>(
      `SELECT count(*) AS backlog, extract(epoch FROM now() - min(created_at))::float AS oldest
       FROM outbox WHERE sent_at IS NULL`,
      { type: QueryTypes.SELECT },
    );
    return {
      backlog: Number(row?.backlog ?? 0),
      oldestAgeS: row?.oldest ?? 0,
      published: this.published,
      failures: this.failures,
    };
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}
