import { expect } from 'chai';
import { sleep, until } from '../helpers/wait';
import type { ReadableStreamDefaultReader } from 'node:stream/web';
import { QueryTypes } from 'sequelize';
import { amqpUrl, config } from '../../shared/config';
import type { DomainEvent } from '../../shared/events';
import { MessageQueue } from '../../shared/messaging';
import { testDb, testLogger, unique, type TestDb } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';

type Page = { data: DomainEvent[] };

/** Reads SSE frames from a stream until `enough` says stop; then drops the connection. */
async function readSse(
  url: string,
  headers: Record<string, string>,
  enough: (events: { id: string; data: DomainEvent }[]) => boolean,
) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/event-stream/);
  const events: { id: string; data: DomainEvent }[] = [];
  // fetch's body is typed loosely in Node 20's types; it is a byte stream
  const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (!reader) throw new Error('no body');
  let buffer = '';
  const decoder = new TextDecoder();
  const deadline = setTimeout(() => controller.abort(), 20_000);
  try {
    while (!enough(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const id = /^id: (.*)$/m.exec(frame)?.[1];
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (id && data) events.push({ id, data: JSON.parse(data) as DomainEvent });
      }
    }
  } finally {
    clearTimeout(deadline);
    controller.abort();
  }
  return events;
}

describe('events over HTTP and across services', function () {
  this.timeout(90_000);
  let nodes: Node[];
  let gateway: Node;
  let api: string;
  let db: TestDb;
  let token: string;

  before(async function () {
    db = await testDb();
    nodes = await Promise.all([
      startNode(['gateway']),
      startNode(['buildings']),
      startNode(['devices']),
      startNode(['events']),
      startNode(['users']),
    ]);
    gateway = nodes[0] as Node;
    await Promise.all(
      ['buildings.get', 'devices.get', 'events.list', 'users.login'].map((a) =>
        waitForAction(gateway.broker, a),
      ),
    );
    api = gatewayUrl(gateway);
    token = await login(api);
    useToken(token);
  });
  after(async function () {
    useToken(undefined);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  });

  it('reads the event log with its filters and refuses unknown ones naming them', async function () {
    const b = await http(
      'POST',
      `${api}/buildings`,
      { name: 'Log', code: unique('log') },
      { 'X-Request-ID': 'log-req' },
    );
    await http('PATCH', `${api}/buildings/${String(b.body.id)}`, { name: 'Log 2' });
    const all = await http<Page>('GET', `${api}/events?aggregateId=${String(b.body.id)}`);
    expect(all.status).to.equal(200);
    expect(all.body.data.map((e) => e.type)).to.deep.equal(['building.created', 'building.updated']);
    expect(all.body.data[0]).to.include({ requestId: 'log-req', aggregateType: 'building' });
    const after = await http<Page>(
      'GET',
      `${api}/events?aggregateId=${String(b.body.id)}&after=${all.body.data[0]?.position}`,
    );
    expect(after.body.data.map((e) => e.type)).to.deep.equal(['building.updated']);
    const typed = await http<Page>(
      'GET',
      `${api}/events?type=building.updated&aggregateType=building&limit=1000`,
    );
    expect(typed.body.data.every((e) => e.type === 'building.updated')).to.equal(true);
    for (const [q, field] of [
      ['colour=red', 'colour'],
      ['after=-1', 'after'],
      ['limit=0', 'limit'],
      ['aggregateId=x', 'aggregateId'],
      ['type=DROP TABLE', 'type'],
    ]) {
      const res = await http<{ errors: { field: string }[] }>('GET', `${api}/events?${q}`);
      expect(res.status, q).to.equal(400);
      expect(res.body.errors.map((e) => e.field)).to.include(field);
    }
  });

  it('streams events as SSE and resumes with Last-Event-ID with exactly the missed events', async function () {
    const tag = unique('sse');
    const first = await http('POST', `${api}/buildings`, { name: 'S1', code: `${tag}-1` });
    const auth = { authorization: `Bearer ${token}` };
    const seen = await readSse(`${api}/events/stream?type=building.created`, auth, (evs) =>
      evs.some((e) => e.data.aggregateId === first.body.id),
    );
    const lastId = seen[seen.length - 1]?.id ?? '0';
    expect(seen[seen.length - 1]?.data.aggregateId).to.equal(first.body.id);
    expect(Number(lastId)).to.equal(seen[seen.length - 1]?.data.position);

    // while disconnected
    const missed = [];
    for (const n of [2, 3, 4])
      missed.push((await http('POST', `${api}/buildings`, { name: `S${n}`, code: `${tag}-${n}` })).body.id);
    const resumed = await readSse(
      `${api}/events/stream?type=building.created`,
      { ...auth, 'Last-Event-ID': lastId },
      (evs) => evs.length >= 3,
    );
    expect(resumed.slice(0, 3).map((e) => e.data.aggregateId)).to.deep.equal(missed);
    expect(resumed.every((e) => Number(e.id) > Number(lastId))).to.equal(true);
  });

  it('detaches the devices of a deleted room once, even when the event is delivered twice', async function () {
    const b = (await http('POST', `${api}/buildings`, { name: 'D', code: unique('D') })).body;
    const f = (await http('POST', `${api}/buildings/${String(b.id)}/floors`, { name: 'F', level: 0 })).body;
    const room = (await http('POST', `${api}/floors/${String(f.id)}/rooms`, { name: 'R', number: '1' })).body;
    const device = await http('POST', `${api}/devices`, {
      name: 'T',
      type: 'sensor',
      serialNumber: unique('SN'),
      roomId: room.id,
    });
    expect(device.status, JSON.stringify(device.body)).to.equal(201);
    expect(device.body).to.include({ roomId: room.id, floorId: f.id, buildingId: b.id });

    expect((await http('DELETE', `${api}/rooms/${String(room.id)}`)).status).to.equal(204);
    const deviceUrl = `${api}/devices/${String(device.body.id)}`;
    await until('the device detached', async () => (await http('GET', deviceUrl)).body.roomId === null);
    expect((await http('GET', deviceUrl)).body).to.include({ roomId: null, floorId: null, buildingId: null });

    const [roomDeleted] = (
      await http<Page>('GET', `${api}/events?aggregateId=${String(room.id)}&type=room.deleted`)
    ).body.data;
    if (!roomDeleted) throw new Error('no room.deleted event');
    const detach = (
      await http<Page>('GET', `${api}/events?aggregateId=${String(device.body.id)}&type=device.updated`)
    ).body.data;
    expect(detach).to.have.length(1);
    expect(detach[0]?.causationId).to.equal(roomDeleted.id);
    expect(detach[0]?.data.changes).to.deep.include({ roomId: [room.id, null] });

    // the room comes back and the device is placed in it again; then the old event arrives again
    expect((await http('POST', `${api}/rooms/${String(room.id)}/restore`)).status).to.equal(200);
    expect((await http('PATCH', deviceUrl, { roomId: room.id })).status).to.equal(200);
    const mq = new MessageQueue(amqpUrl(config().amqp), testLogger());
    await mq.start();
    try {
      await mq.publish(config().amqp.eventsExchange, 'room.deleted', roomDeleted, {
        messageId: roomDeleted.id,
      });
      const queue = `${config().namespace}.devices.detach-from-deleted-rooms`;
      await until('the redelivery consumed', async () => (await mq.queueStats(queue)).messages === 0);
      await sleep(500);
    } finally {
      await mq.stop();
    }
    expect((await http('GET', deviceUrl)).body.roomId).to.equal(room.id);
    const [inbox] = await db.database.sequelize.query<{ n: string }>(
      `SELECT count(*) AS n FROM inbox WHERE event_id = :id AND consumer = 'devices.detach-from-deleted-rooms'`,
      { replacements: { id: roomDeleted.id }, type: QueryTypes.SELECT },
    );
    expect(Number(inbox?.n)).to.equal(1);
  });

  it('publishes every event to the exchange with its type as routing key and its id as message id', async function () {
    const mq = new MessageQueue(amqpUrl(config().amqp), testLogger());
    await mq.start();
    const queue = `${config().namespace}.probe`;
    const got: { routingKey: string; messageId?: string; body: DomainEvent }[] = [];
    try {
      await mq.subscribe({ queue, exchange: config().amqp.eventsExchange, patterns: ['building.*'] }, (d) => {
        got.push({
          routingKey: d.routingKey,
          messageId: d.messageId,
          body: JSON.parse(d.content.toString()) as DomainEvent,
        });
        return Promise.resolve();
      });
      const b = (await http('POST', `${api}/buildings`, { name: 'P', code: unique('P') })).body;
      await until('the event on the exchange', () => got.some((g) => g.body.aggregateId === b.id));
      const e = got.find((g) => g.body.aggregateId === b.id);
      expect(e?.routingKey).to.equal('building.created');
      expect(e?.messageId).to.equal(e?.body.id);
    } finally {
      for (const q of [queue, `${queue}.retry`, `${queue}.dlq`])
        await mq.deleteQueue(q).catch(() => undefined);
      await mq.stop();
    }
  });
});
