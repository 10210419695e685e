import { Counter, Gauge } from 'prom-client';
import type { MessageQueue, MessageQueueCounters } from './message-queue';
import type { OutboxRelay } from './outbox.relay';

/*
 * Prometheus metrics of the outbox and the message queue, in prom-client's default registry (one
 * exposition per process; the monitoring issue serves it). Several services in one process share
 * them: gauges read a live relay at scrape time, counters add up what every queue counted since the
 * last scrape.
 */

const relays = new Set<OutboxRelay>();
const queues = new Set<MessageQueue>();

export const outboxPublished = new Counter({
  name: 'arxos_outbox_published_total',
  help: 'Outbox events published and confirmed by RabbitMQ',
});

/** One query serves both outbox gauges of a scrape (their collects run together). */
let lastStats: { at: number; value: Promise<{ backlog: number; oldestAgeS: number }> } | undefined;
function relayStats() {
  const [relay] = relays;
  if (!relay) return Promise.resolve({ backlog: 0, oldestAgeS: 0 });
  if (!lastStats || Date.now() - lastStats.at > 1000) lastStats = { at: Date.now(), value: relay.stats() };
  return lastStats.value;
}

new Gauge({
  name: 'arxos_outbox_backlog',
  help: 'Outbox events not yet confirmed by RabbitMQ',
  async collect() {
    this.set((await relayStats()).backlog);
  },
});

new Gauge({
  name: 'arxos_outbox_oldest_age_seconds',
  help: 'Age of the oldest outbox event not yet confirmed',
  async collect() {
    this.set((await relayStats()).oldestAgeS);
  },
});

const COUNTERS: Record<keyof MessageQueueCounters, string> = {
  published: 'messages published and confirmed',
  consumed: 'messages handled and acknowledged',
  retried: 'messages sent to a retry queue after their handler failed',
  deadLettered: 'messages parked in a dead-letter queue',
  returned: 'messages RabbitMQ returned as unroutable',
  reconnects: 'connections to RabbitMQ re-established',
};

for (const [key, help] of Object.entries(COUNTERS)) {
  const field = key as keyof MessageQueueCounters;
  let seen = 0;
  new Counter({
    name: `arxos_mq_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`,
    help: `Message queue: ${help}`,
    collect() {
      let total = 0;
      for (const q of queues) total += q.counters[field];
      if (total > seen) this.inc(total - seen);
      seen = Math.max(seen, total);
    },
  });
}

export function trackRelay(relay: OutboxRelay): () => void {
  relays.add(relay);
  return () => relays.delete(relay);
}

export function trackQueue(queue: MessageQueue): () => void {
  queues.add(queue);
  return () => queues.delete(queue);
}
