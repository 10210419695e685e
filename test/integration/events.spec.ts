import { expect } from 'chai';
import { register } from 'prom-client';
import { sleep, until } from '../helpers/wait';
import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import { amqpUrl, config } from '../../shared/config';
import { runInContext } from '../../shared/context';
import { withTransaction } from '../../shared/db';
import { toDomainError } from '../../shared/data';
import {
  appendEvents,
  clearUpcasters,
  readEvents,
  registerUpcaster,
  type DomainEvent,
} from '../../shared/events';
import { idempotent, MessageQueue, OutboxRelay } from '../../shared/messaging';
import { testDb, testLogger, unique, type TestDb } from '../helpers/db';
import { TcpProxy } from '../helpers/tcp-proxy';

describe('domain events: store, outbox, relay, message queue, consumers', function () {
  this.timeout(120_000);
  let db: TestDb;
  const exchange = config().amqp.eventsExchange;
  const ns = config().namespace;

  before(async function () {
    db = await testDb();
    await db.database.sequelize.query(
      'CREATE TABLE IF NOT EXISTS test_effects (event_id uuid NOT NULL, consumer text NOT NULL)',
    );
  });

  describe('event store', function () {
    it('appends one event per written row in the same transaction, with the full envelope', async function () {
      const b = await runInContext({ actor: 'u-1', requestId: 'r-1' }, () =>
        db.data.create('building', { name: 'E', code: unique('E') }),
      );
      await runInContext({ actor: 'u-2', requestId: 'r-2' }, () =>
        db.data.update('building', b.id, { name: 'E2' }),
      );
      const events = await readEvents(db.database.sequelize, { aggregateId: String(b.id) });
      expect(events.map((e) => [e.type, e.aggregateVersion, e.actor, e.requestId])).to.deep.equal([
        ['building.created', 0, 'u-1', 'r-1'],
        ['building.updated', 1, 'u-2', 'r-2'],
      ]);
      const [created, updated] = events;
      expect(created).to.include({
        aggregateType: 'building',
        aggregateId: b.id,
        schemaVersion: 1,
        causationId: null,
      });
      expect(created?.position).to.be.a('number');
      expect(Number(updated?.position)).to.be.greaterThan(Number(created?.position));
      expect(updated?.data.changes).to.deep.equal({ name: ['E', 'E2'] });
      expect((updated?.data.state as Record<string, unknown>).name).to.equal('E2');
      const outbox = await db.database.sequelize.query<{ routing_key: string }>(
        'SELECT routing_key FROM outbox WHERE aggregate_id = :id ORDER BY id',
        { replacements: { id: b.id }, type: QueryTypes.SELECT },
      );
      expect(outbox.map((o) => o.routing_key)).to.deep.equal(['building.created', 'building.updated']);
    });

    it('leaves no event and no outbox row when the write rolls back', async function () {
      const code = unique('RB');
      let id = '';
      await withTransaction(db.database.sequelize, async (transaction) => {
        const row = await db.models.Building.create({ name: 'x', code }, { transaction });
        id = String(row.getDataValue('id'));
        throw new Error('abort');
      }).catch(() => undefined);
      expect(await readEvents(db.database.sequelize, { aggregateId: id })).to.deep.equal([]);
    });

    it('lets one of several concurrent writers of one aggregate version win; the rest get CONFLICT', async function () {
      const aggregateId = randomUUID();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          withTransaction(db.database.sequelize, (t) =>
            appendEvents(db.database.sequelize, t, [
              {
                id: randomUUID(),
                type: 'building.updated',
                aggregateType: 'building',
                aggregateId,
                aggregateVersion: 7,
                actor: `writer-${i}`,
                requestId: null,
                causationId: null,
                schemaVersion: 1,
                data: {},
              },
            ]),
          ).catch((err: unknown) => {
            throw toDomainError(err, db.data.resource('building'));
          }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).to.have.length(9);
      for (const r of rejected) expect(r.reason).to.include({ type: 'CONFLICT', code: 409 });
    });

    it('lets a follower by position see every event exactly once while many writers commit out of order', async function () {
      const sequelize = db.database.sequelize;
      const start = (await readEvents(sequelize, { after: 0, limit: 1000 })).reduce(
        (m, e) => Math.max(m, e.position),
        0,
      );
      let cursor = await sequelize
        .query<{ p: string }>('SELECT coalesce(max(position), 0) AS p FROM domain_events', {
          type: QueryTypes.SELECT,
        })
        .then((r) => Number(r[0]?.p ?? start));
      const tag = randomUUID();
      const written: string[] = [];
      let writing = true;
      const seen: string[] = [];
      const follower = (async () => {
        for (;;) {
          // read whether the writers were done BEFORE reading: an empty read after that is the end
          const finished = !writing;
          const batch = await readEvents(sequelize, { after: cursor, limit: 1000 });
          for (const e of batch) {
            if (e.data.tag === tag) seen.push(e.id);
            cursor = e.position;
          }
          if (finished && batch.length === 0) return;
        }
      })();
      // 20 writers, each holding its transaction open a random while after appending, so commits
      // come in another order than positions were handed out, were they not serialised
      await Promise.all(
        Array.from({ length: 20 }, async (_, w) => {
          for (let i = 0; i < 15; i += 1) {
            const id = randomUUID();
            await withTransaction(sequelize, async (t) => {
              await appendEvents(sequelize, t, [
                {
                  id,
                  type: 'building.updated',
                  aggregateType: 'building',
                  aggregateId: randomUUID(),
                  aggregateVersion: 1,
                  actor: `w${w}`,
                  requestId: null,
                  causationId: null,
                  schemaVersion: 1,
                  data: { tag },
                },
              ]);
              await sleep(Math.random() * 5);
            });
            written.push(id);
          }
        }),
      );
      writing = false;
      await follower;
      expect(seen).to.have.length(written.length);
      expect(new Set(seen)).to.deep.equal(new Set(written));
    });

    it('reads a stored v1 event as v2 through its upcaster', async function () {
      const type = 'building.renamed_legacy';
      const id = randomUUID();
      await db.database.sequelize.query(
        `INSERT INTO domain_events (id, type, aggregate_type, aggregate_id, aggregate_version, actor, schema_version, data)
         VALUES (:id, :type, 'building', :agg, 1, 'old-system', 1, :data)`,
        { replacements: { id, type, agg: randomUUID(), data: JSON.stringify({ name: 'Old HQ' }) } },
      );
      registerUpcaster(type, 1, (data) => ({ title: data.name, renamedBy: 'unknown' }));
      try {
        const [event] = (await readEvents(db.database.sequelize, { type })).filter((e) => e.id === id);
        expect(event).to.include({ schemaVersion: 2 });
        expect(event?.data).to.deep.equal({ title: 'Old HQ', renamedBy: 'unknown' });
        const [raw] = await db.database.sequelize.query<{ schema_version: number }>(
          'SELECT schema_version FROM domain_events WHERE id = :id',
          { replacements: { id }, type: QueryTypes.SELECT },
        );
        expect(raw?.schema_version).to.equal(1); // stored events are never rewritten
      } finally {
        clearUpcasters(type);
      }
    });
  });

  describe('message queue', function () {
    let mq: MessageQueue;
    const x = `${exchange}.mq-${randomUUID().slice(0, 8)}`;
    before(async function () {
      mq = new MessageQueue(amqpUrl(config().amqp), testLogger());
      await mq.start();
      await mq.assertExchange(x);
    });
    after(async function () {
      for (const q of ['poison', 'poison.retry', 'poison.dlq'])
        await mq.deleteQueue(`${ns}.${q}`).catch(() => undefined);
      await mq.stop();
    });

    it('parks a poison message in the dead-letter queue after N attempts and goes on with the rest', async function () {
      const queue = `${ns}.poison`;
      const handled: string[] = [];
      const attempts: number[] = [];
      await mq.subscribe(
        { queue, exchange: x, patterns: ['thing.*'], maxAttempts: 3, retryDelayMs: 50 },
        (d) => {
          const body = JSON.parse(d.content.toString()) as { n: number };
          if (body.n === 2) {
            attempts.push(d.attempt);
            return Promise.reject(new Error('cannot handle 2'));
          }
          handled.push(String(body.n));
          return Promise.resolve();
        },
      );
      for (const n of [1, 2, 3]) await mq.publish(x, 'thing.happened', { n }, { messageId: `m${n}` });
      await until(
        'the poison message in the DLQ',
        async () => (await mq.queueStats(`${queue}.dlq`)).messages === 1,
      );
      expect(attempts).to.deep.equal([1, 2, 3]);
      expect(handled).to.deep.equal(['1', '3']);
      const parked = await mq.getOne(`${queue}.dlq`);
      expect(parked?.messageId).to.equal('m2');
      expect(parked?.routingKey).to.equal('thing.happened');
      expect(String(parked?.headers['x-last-error'])).to.include('cannot handle 2');
      await mq.publish(x, 'thing.happened', { n: 4 });
      await until('the consumer to go on', () => handled.includes('4'));
      expect((await mq.queueStats(queue)).consumers).to.equal(1);
    });
  });

  describe('no event is lost while RabbitMQ goes away', function () {
    it('delivers the effect of every one of 2 000 committed writes exactly once across a broker outage', async function () {
      this.timeout(300_000);
      const real = new URL(config().amqp.url);
      const proxy = await new TcpProxy(real.hostname, Number(real.port || 5672)).start();
      const viaProxy = new URL(amqpUrl(config().amqp));
      viaProxy.host = `127.0.0.1:${proxy.port}`;
      viaProxy.searchParams.set('heartbeat', '2');
      const x = `${exchange}.outage-${randomUUID().slice(0, 8)}`;
      const queue = `${ns}.outage`;
      const log = testLogger();
      const mq = new MessageQueue(viaProxy.toString(), log);
      const relay = new OutboxRelay(db.database.sequelize, mq, log, {
        databaseUrl: config().db.url,
        exchange: x,
        pollMs: 200,
      });
      const sequelize = db.database.sequelize;
      const tag = unique('outage');
      let deliveries = 0;
      try {
        await mq.start();
        await mq.subscribe({ queue, exchange: x, patterns: ['building.created'], prefetch: 50 }, (d) => {
          deliveries += 1;
          return idempotent(sequelize, 'test.outage', async (event, t) => {
            const state = event.data.state as { metadata?: { tag?: string } };
            if (state.metadata?.tag !== tag) return;
            await sequelize.query('INSERT INTO test_effects (event_id, consumer) VALUES (:id, :c)', {
              replacements: { id: event.id, c: 'outage' },
              transaction: t,
            });
          })(d);
        });
        // events older than this test belong to other suites: mark them sent so only ours flow here
        await sequelize.query('UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL');
        await relay.start();

        const total = 2000;
        let done = 0;
        const started = Date.now();
        let outageMs = 0;
        const writer = async () => {
          while (done < total) {
            done += 1;
            await db.data.create('building', { name: `o${done}`, code: `${tag}-${done}`, metadata: { tag } });
          }
        };
        const chaos = (async () => {
          await until('a quarter of the writes', () => done >= total / 4, 120_000);
          await proxy.cut();
          const cutAt = Date.now();
          await until('three quarters of the writes', () => done >= (total * 3) / 4, 120_000);
          await proxy.restore();
          outageMs = Date.now() - cutAt;
        })();
        await Promise.all([...Array.from({ length: 10 }, writer), chaos]);
        const written = Date.now();

        const committed = await sequelize.query<{ id: string }>(
          `SELECT e.id FROM domain_events e WHERE e.type = 'building.created' AND e.data->'state'->'metadata'->>'tag' = :tag`,
          { replacements: { tag }, type: QueryTypes.SELECT },
        );
        expect(committed).to.have.length(total);
        const effects = async () =>
          sequelize.query<{ event_id: string; n: string }>(
            `SELECT event_id, count(*) AS n FROM test_effects WHERE consumer = 'outage' GROUP BY event_id`,
            { type: QueryTypes.SELECT },
          );
        await until('every effect', async () => (await effects()).length >= total, 120_000);
        const drainedMs = Date.now() - written;
        const rows = await effects();
        const ids = new Set(rows.map((r) => r.event_id));
        const lost = committed.filter((c) => !ids.has(c.id)).length;
        const duplicated = rows.filter((r) => Number(r.n) > 1).length;
        console.log(
          `      outage report: ${total} writes in ${written - started} ms, broker away ${outageMs} ms, ` +
            `${deliveries} deliveries, lost ${lost}, duplicated effects ${duplicated}, drained ${drainedMs} ms after the last write`,
        );
        expect(lost).to.equal(0);
        expect(duplicated).to.equal(0);
        expect(mq.counters.reconnects).to.be.greaterThan(0);
        // and the operators see it: Prometheus figures of the outbox and the queue
        const metrics = await register.getMetricsAsJSON();
        const value = (name: string) => Number(metrics.find((m) => m.name === name)?.values[0]?.value ?? NaN);
        expect(value('arxos_outbox_published_total')).to.be.at.least(total);
        expect(value('arxos_mq_reconnects_total')).to.be.at.least(1);
        expect(value('arxos_outbox_backlog')).to.equal(0);
      } finally {
        await relay.stop();
        for (const q of [queue, `${queue}.retry`, `${queue}.dlq`])
          await mq.deleteQueue(q).catch(() => undefined);
        await mq.stop();
        await proxy.stop();
      }
    });
  });
});

export type { DomainEvent };
