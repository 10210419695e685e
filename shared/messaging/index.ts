export { MessageQueue } from './message-queue';
export type {
  Delivery,
  Handler,
  SubscribeOptions,
  QueueStats,
  PublishOptions,
  MessageQueueCounters,
} from './message-queue';
export { OutboxRelay } from './outbox.relay';
export type { RelayStats, RelayOptions } from './outbox.relay';
export { idempotent } from './inbox';
