/*
 * Loaded by mocha before any test file (.mocharc.json). Gives this run its own database, Redis key
 * prefix and broker namespace, so concurrent runs never meet, and removes them afterwards.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/arxos');
base.pathname = `/arxos_test_${runId}`;

process.env.NODE_ENV = 'test';
process.env.DATABASE_URL = base.toString();
process.env.REDIS_KEY_PREFIX = `arxos:test:${runId}:`;
process.env.NAMESPACE = `test-${runId}`;
process.env.EVENTS_EXCHANGE = `arxos.events.test-${runId}`;
process.env.LOG_LEVEL ??= 'warn';
export const TEST_ADMIN = { email: `admin-${runId}@example.com`, password: 'correct horse battery staple' };
process.env.ARXOS_ADMIN_EMAIL = TEST_ADMIN.email;
process.env.ARXOS_ADMIN_PASSWORD = TEST_ADMIN.password;
process.env.JWT_SECRET = `test-secret-${runId}-${'x'.repeat(32)}`;

export const TEST_RUN_ID = runId;

type Cleanup = () => Promise<void>;
const cleanups: Cleanup[] = [];

/** Registers work to undo at the end of the run (last registered runs first). */
export function atEndOfRun(fn: Cleanup): void {
  cleanups.unshift(fn);
}

/** This run's Redis keys go at the end, whoever wrote them. */
atEndOfRun(async () => {
  const { default: Redis } = await import('ioredis');
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(
        cursor,
        'MATCH',
        `${process.env.REDIS_KEY_PREFIX}*`,
        'COUNT',
        500,
      );
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
});

/**
 * At the end of every run, whatever its test files load: this run's exchanges and queues go
 * (Moleculer's `MOL-<namespace>.*`, the consumers' `<namespace>.*`, and the run's own events exchange
 * with the ones tests derive from it).
 */
atEndOfRun(async () => {
  const { default: amqp } = await import('amqplib');
  const { config } = await import('../../shared/config');
  const prefixes = [`MOL-${config().namespace}.`, `${config().namespace}.`, config().amqp.eventsExchange];
  const list = async (what: string) => {
    try {
      const { stdout } = await promisify(execFile)('rabbitmqctl', ['-q', 'list_' + what, 'name'], {
        timeout: 20_000,
      });
      return stdout.split('\n').filter((n) => prefixes.some((p) => n.startsWith(p)));
    } catch (err) {
      console.error(`cannot list RabbitMQ ${what} (rabbitmqctl): this run's stay behind`, err);
      return [];
    }
  };
  const [queues, exchanges] = await Promise.all([list('queues'), list('exchanges')]);
  if (queues.length + exchanges.length === 0) return;
  const conn = await amqp.connect(config().amqp.url);
  const ch = await conn.createChannel();
  for (const q of queues) await ch.deleteQueue(q);
  for (const x of exchanges) await ch.deleteExchange(x);
  await conn.close();
});

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    for (const fn of cleanups) {
      await fn().catch((err: unknown) => console.error('cleanup failed:', err));
    }
  },
};
