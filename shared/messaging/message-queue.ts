import { setTimeout as sleep } from 'node:timers/promises';
import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';
import type { Log } from '../logging';
import { trackQueue } from './metrics';

/*
 * The message queue on amqplib (the seed's MessageQueueService): one connection with recovery, a
 * confirm channel for publishing, a channel per consumer with its own prefetch, durable queues bound
 * by routing pattern, retries with delay through a TTL queue, a dead-letter queue after N attempts,
 * queue management and health. Moleculer's own transporter events are fire-and-forget (FACTS.md):
 * domain events travel here instead.
 */

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface PublishOptions {
  messageId?: string;
  headers?: Record<string, unknown>;
}

export interface Delivery {
  content: Buffer;
  routingKey: string;
  messageId?: string;
  headers: Record<string, unknown>;
  /** 1 on the first delivery, 2 on the first retry... */
  attempt: number;
}

export interface SubscribeOptions {
  /** durable queue name; with `exclusive`, a private queue that goes with the connection */
  queue: string;
  exchange: string;
  patterns: string[];
  prefetch?: number;
  /** deliveries before a message goes to `<queue>.dlq` */
  maxAttempts?: number;
  /** delay before a redelivery */
  retryDelayMs?: number;
  exclusive?: boolean;
}

export type Handler = (delivery: Delivery) => Promise<void>;

interface Subscription {
  opts: SubscribeOptions;
  handler: Handler;
  channel?: Channel;
}

export interface QueueStats {
  queue: string;
  messages: number;
  consumers: number;
}

export interface MessageQueueCounters {
  published: number;
  returned: number;
  consumed: number;
  retried: number;
  deadLettered: number;
  reconnects: number;
}

export class MessageQueue {
  private conn?: ChannelModel;
  private pub?: ConfirmChannel;
  private readonly subs: Subscription[] = [];
  private readonly exchanges = new Set<string>();
  private stopping = false;
  private connecting?: Promise<void>;
  private untrack?: () => void;
  readonly counters: MessageQueueCounters = {
    published: 0,
    returned: 0,
    consumed: 0,
    retried: 0,
    deadLettered: 0,
    reconnects: 0,
  };

  constructor(
    private readonly url: string,
    private readonly log: Log,
  ) {}

  get connected(): boolean {
    return this.pub !== undefined;
  }

  /** Connects, retrying with backoff until it succeeds or stop() is called. */
  async start(): Promise<void> {
    this.stopping = false;
    this.untrack = trackQueue(this);
    await this.ensureConnected();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.untrack?.();
    const conn = this.conn;
    this.conn = undefined;
    this.pub = undefined;
    await conn?.close().catch(() => undefined); // already closed is fine when stopping
  }

  private ensureConnected(): Promise<void> {
    this.connecting ??= this.connectLoop().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connectLoop(): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt += 1) {
      try {
        await this.connect();
        if (attempt > 0) this.log.info('message queue: reconnected', { attempts: attempt + 1 });
        return;
      } catch (err) {
        const delay = Math.min(5000, 100 * 2 ** attempt);
        if (attempt === 0) this.log.warn('message queue: cannot connect; retrying', { err: String(err) });
        await sleep(delay);
      }
    }
  }

  private async connect(): Promise<void> {
    const conn = await amqp.connect(this.url, { noDelay: true, timeout: 5000 });
    if (this.stopping) {
      // stop() came while this connection was being made: it must not live on (and re-declare queues)
      await conn.close().catch(() => undefined);
      return;
    }
    conn.on('error', (err: Error) => this.log.warn('message queue: connection error', { err: err.message }));
    conn.on('close', () => {
      if (this.conn !== conn) return;
      this.conn = undefined;
      this.pub = undefined;
      for (const s of this.subs) s.channel = undefined;
      if (this.stopping) return;
      this.counters.reconnects += 1;
      this.log.warn('message queue: connection lost; reconnecting');
      void this.ensureConnected();
    });
    const pub = await conn.createConfirmChannel();
    pub.on('error', (err: Error) => this.log.warn('message queue: channel error', { err: err.message }));
    pub.on('return', (msg: ConsumeMessage) => {
      this.counters.returned += 1;
      this.log.warn('message queue: a message no queue takes was returned', {
        routingKey: msg.fields.routingKey,
      });
    });
    this.conn = conn;
    this.pub = pub;
    for (const x of this.exchanges) await pub.assertExchange(x, 'topic', { durable: true });
    for (const s of this.subs) await this.consume(s);
  }

  /** A durable topic exchange, declared again after every reconnect. */
  async assertExchange(name: string): Promise<void> {
    this.exchanges.add(name);
    await this.pub?.assertExchange(name, 'topic', { durable: true });
  }

  /**
   * Publishes a persistent, mandatory message and resolves once the broker has confirmed it;
   * rejects when the broker refuses it or the connection is gone.
   */
  async publish(
    exchange: string,
    routingKey: string,
    body: unknown,
    opts: PublishOptions = {},
  ): Promise<void> {
    const pub = this.pub;
    if (!pub) throw new Error('message queue: not connected');
    const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const options: Options.Publish = {
      persistent: true,
      mandatory: true,
      contentType: 'application/json',
      messageId: opts.messageId,
      headers: opts.headers,
      timestamp: Math.floor(Date.now() / 1000),
    };
    await new Promise<void>((resolve, reject) => {
      pub.publish(exchange, routingKey, content, options, (err: unknown) =>
        err ? reject(new Error('message queue: the broker refused a message')) : resolve(),
      );
    });
    this.counters.published += 1;
  }

  /** Registers a consumer; it is set up now if connected, and again after every reconnect. */
  async subscribe(opts: SubscribeOptions, handler: Handler): Promise<void> {
    const sub: Subscription = { opts, handler };
    this.subs.push(sub);
    if (this.conn) await this.consume(sub);
  }

  private async consume(sub: Subscription): Promise<void> {
    const conn = this.conn;
    if (!conn) return;
    const o = sub.opts;
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) =>
      this.log.warn('message queue: consumer channel error', { queue: o.queue, err: err.message }),
    );
    await ch.assertExchange(o.exchange, 'topic', { durable: true });
    if (o.exclusive) {
      await ch.assertQueue(o.queue, { exclusive: true, autoDelete: true, durable: false });
    } else {
      // retries wait in <queue>.retry (TTL), then dead-letter back into the queue; failures past
      // maxAttempts are parked in <queue>.dlq for a person to look at
      await ch.assertQueue(`${o.queue}.dlq`, { durable: true });
      await ch.assertQueue(`${o.queue}.retry`, {
        durable: true,
        deadLetterExchange: '',
        deadLetterRoutingKey: o.queue,
        messageTtl: o.retryDelayMs ?? 1000,
      });
      await ch.assertQueue(o.queue, { durable: true });
    }
    for (const p of o.patterns) await ch.bindQueue(o.queue, o.exchange, p);
    await ch.prefetch(o.prefetch ?? 20);
    sub.channel = ch;
    await ch.consume(o.queue, (msg) => {
      if (msg) void this.handle(sub, ch, msg);
    });
  }

  private async handle(sub: Subscription, ch: Channel, msg: ConsumeMessage): Promise<void> {
    const headers: Record<string, unknown> = { ...(msg.properties.headers ?? {}) };
    const attempt = typeof headers['x-attempt'] === 'number' ? headers['x-attempt'] : 1;
    const routingKey =
      typeof headers['x-routing-key'] === 'string' ? headers['x-routing-key'] : msg.fields.routingKey;
    try {
      await sub.handler({
        content: msg.content,
        routingKey,
        messageId: text(msg.properties.messageId),
        headers,
        attempt,
      });
      // acknowledged only once the handler's effect is done: a crash before this redelivers
      ch.ack(msg);
      this.counters.consumed += 1;
    } catch (err) {
      // stopping: the handler lost what it needed (cache, pool) and the channel is closing; RabbitMQ
      // redelivers the unacknowledged message to the next consumer, so it is neither retried nor parked
      if (this.stopping) return;
      const max = sub.opts.maxAttempts ?? 5;
      const exhausted = sub.opts.exclusive || attempt >= max;
      this.log.warn(
        exhausted ? 'message queue: giving up on a message' : 'message queue: handler failed; retrying later',
        {
          queue: sub.opts.queue,
          routingKey,
          attempt,
          err: err instanceof Error ? err.message : String(err),
        },
      );
      try {
        const target = exhausted ? `${sub.opts.queue}.dlq` : `${sub.opts.queue}.retry`;
        if (!sub.opts.exclusive) {
          ch.sendToQueue(target, msg.content, {
            persistent: true,
            messageId: text(msg.properties.messageId),
            contentType: text(msg.properties.contentType),
            headers: {
              ...headers,
              'x-attempt': attempt + 1,
              'x-routing-key': routingKey,
              'x-last-error': String(err),
            },
          });
        }
        if (exhausted) this.counters.deadLettered += 1;
        else this.counters.retried += 1;
        ch.ack(msg);
      } catch (sendErr) {
        // the channel is gone: the broker redelivers the unacknowledged message
        this.log.warn('message queue: could not park a failed message', { err: String(sendErr) });
      }
    }
  }

  private async withChannel<T>(fn: (ch: Channel) => Promise<T>): Promise<T> {
    const conn = this.conn;
    if (!conn) throw new Error('message queue: not connected');
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // a failed check closes the channel; the error is thrown below
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async queueStats(queue: string): Promise<QueueStats> {
    return this.withChannel(async (ch) => {
      const q = await ch.checkQueue(queue);
      return { queue, messages: q.messageCount, consumers: q.consumerCount };
    });
  }

  async purgeQueue(queue: string): Promise<number> {
    return this.withChannel(async (ch) => (await ch.purgeQueue(queue)).messageCount);
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.withChannel(async (ch) => {
      await ch.deleteQueue(queue);
    });
  }

  /** Reads one message off a queue without a consumer (for looking into a dead-letter queue). */
  async getOne(queue: string): Promise<Delivery | undefined> {
    return this.withChannel(async (ch) => {
      const msg = await ch.get(queue, { noAck: true });
      if (!msg) return undefined;
      const headers: Record<string, unknown> = { ...(msg.properties.headers ?? {}) };
      return {
        content: msg.content,
        routingKey:
          typeof headers['x-routing-key'] === 'string' ? headers['x-routing-key'] : msg.fields.routingKey,
        messageId: text(msg.properties.messageId),
        headers,
        attempt: typeof headers['x-attempt'] === 'number' ? headers['x-attempt'] : 1,
      };
    });
  }
}
