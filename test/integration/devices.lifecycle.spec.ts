import { expect } from 'chai';
import type { DomainEvent } from '../../shared/events';
import { unique } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';

const STATES = ['planned', 'installed', 'active', 'maintenance', 'faulty', 'decommissioned'] as const;
type State = (typeof STATES)[number];
// API.md, written out independently of the service's table
const LEGAL = new Set([
  'planned>installed',
  'installed>active',
  'active>maintenance',
  'maintenance>active',
  'active>faulty',
  'maintenance>faulty',
  'faulty>maintenance',
  ...STATES.filter((s) => s !== 'decommissioned').map((s) => `${s}>decommissioned`),
]);
/** the shortest legal path from planned to each state */
const PATH: Record<State, State[]> = {
  planned: [],
  installed: ['installed'],
  active: ['installed', 'active'],
  maintenance: ['installed', 'active', 'maintenance'],
  faulty: ['installed', 'active', 'faulty'],
  decommissioned: ['decommissioned'],
};

describe('the device lifecycle over HTTP', function () {
  this.timeout(120_000);
  let nodes: Node[];
  let api: string;

  before(async function () {
    nodes = await Promise.all([
      startNode(['gateway', 'users', 'events']),
      startNode(['devices', 'buildings']),
    ]);
    const gateway = nodes[0] as Node;
    for (const a of ['users.login', 'devices.setStatus', 'events.list'])
      await waitForAction(gateway.broker, a);
    api = gatewayUrl(gateway);
    useToken(await login(api));
  });
  after(async function () {
    useToken(undefined);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  });

  const device = async () => {
    const res = await http('POST', `${api}/devices`, {
      name: 'T',
      type: 'sensor',
      serialNumber: unique('SN'),
    });
    expect(res.body.status).to.equal('planned');
    return String(res.body.id);
  };
  const move = (
    id: string,
    status: string,
    extra: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ) => http('POST', `${api}/devices/${id}/status`, { status, ...extra }, headers);

  it('allows every legal move and refuses every illegal one with 409 naming both states', async function () {
    const failures: string[] = [];
    for (const from of STATES) {
      for (const to of STATES) {
        if (from === to) continue;
        const id = await device();
        for (const step of PATH[from])
          expect((await move(id, step)).status, `${from} via ${step}`).to.equal(200);
        const res = await move(id, to, { reason: `${from} to ${to}` });
        const legal = LEGAL.has(`${from}>${to}`);
        if (legal && (res.status !== 200 || res.body.status !== to))
          failures.push(`${from}>${to}: ${res.status}`);
        if (!legal) {
          const detail = String(res.body.detail);
          if (res.status !== 409 || !detail.includes(from) || !detail.includes(to))
            failures.push(`${from}>${to}: ${res.status} ${detail}`);
        }
      }
    }
    expect(failures).to.deep.equal([]);
  });

  it('emits device.status_changed with from, to and the reason, and records the change', async function () {
    const id = await device();
    await move(id, 'installed', { reason: 'mounted in the plant room' });
    const events = (await http<{ data: DomainEvent[] }>('GET', `${api}/events?aggregateId=${id}`)).body.data;
    expect(events.map((e) => e.type)).to.deep.equal(['device.created', 'device.status_changed']);
    expect(events[1]?.data).to.include({
      from: 'planned',
      to: 'installed',
      reason: 'mounted in the plant room',
    });
    const history = (
      await http<{ data: { changes: Record<string, unknown> }[] }>('GET', `${api}/devices/${id}/history`)
    ).body.data;
    expect(history[0]?.changes.status).to.deep.equal(['planned', 'installed']);
    expect((await http('GET', `${api}/devices/${id}`)).body.installedAt).to.be.a('string');
  });

  it('refuses an unknown status, unknown fields, a status in PATCH, and a stale If-Match', async function () {
    const id = await device();
    expect((await move(id, 'broken')).status).to.equal(400);
    expect((await move(id, 'installed', { colour: 'red' })).status).to.equal(400);
    expect((await http('PATCH', `${api}/devices/${id}`, { status: 'active' })).status).to.equal(400);
    expect((await move(id, 'installed', {}, { 'If-Match': 'W/"5"' })).status).to.equal(412);
    expect((await move(id, 'installed', {}, { 'If-Match': 'W/"0"' })).status).to.equal(200);
    expect((await move('00000000-0000-4000-8000-000000000000', 'installed')).status).to.equal(404);
  });

  describe('heartbeats', function () {
    const beat = (ids: string[], at?: string) =>
      (nodes[0] as Node).broker.call<{ updated: number }, unknown>(
        'devices.heartbeat',
        { ids, ...(at ? { at } : {}) },
        { meta: { user: { id: 'tech', role: 'technician' } } },
      );

    it('moves lastSeenAt forward in one batch without a change record, an event or a new version', async function () {
      const [a, b] = [await device(), await device()];
      const before = (await http('GET', `${api}/devices/${a}`)).body; // cached now
      expect(await beat([a, b], '2026-01-01T10:00:00Z')).to.deep.equal({ updated: 2 });
      expect(await beat([a], '2026-01-01T09:00:00Z')).to.deep.equal({ updated: 0 }); // never backwards
      const after = (await http('GET', `${api}/devices/${a}`)).body;
      expect(after.lastSeenAt).to.equal('2026-01-01T10:00:00.000Z');
      expect(after.version).to.equal(before.version);
      const history = (await http<{ data: unknown[] }>('GET', `${api}/devices/${a}/history`)).body.data;
      expect(history).to.have.length(1); // the create only
      const events = (await http<{ data: DomainEvent[] }>('GET', `${api}/events?aggregateId=${a}`)).body.data;
      expect(events.map((e) => e.type)).to.deep.equal(['device.created']);
    });

    it('finds devices not seen since a time, and the answer is never a stale cached list', async function () {
      const tag = unique('seen');
      const ids: string[] = [];
      for (let i = 0; i < 3; i += 1) {
        ids.push(
          String(
            (
              await http('POST', `${api}/devices`, {
                name: 'S',
                type: 'meter',
                serialNumber: unique('sn'),
                metadata: { tag },
              })
            ).body.id,
          ),
        );
      }
      const [old, fresh, never] = ids as [string, string, string];
      await beat([old], '2026-01-01T00:00:00Z');
      await beat([fresh]);
      const stale = () =>
        http<{ data: { id: string }[] }>(
          'GET',
          `${api}/devices?metadata.tag=${tag}&lastSeenAt__lt=2026-06-01T00:00:00Z`,
        );
      expect((await stale()).body.data.map((d) => d.id)).to.deep.equal([old]);
      const unseen = await http<{ data: { id: string }[] }>(
        'GET',
        `${api}/devices?metadata.tag=${tag}&lastSeenAt__isnull=true`,
      );
      expect(unseen.body.data.map((d) => d.id)).to.deep.equal([never]);
      await beat([old]);
      expect((await stale()).body.data).to.deep.equal([]);
    });

    it('refuses more than 1000 ids, ids that are not UUIDs and a time in the future', async function () {
      for (const params of [
        { ids: Array.from({ length: 1001 }, () => '00000000-0000-4000-8000-000000000000') },
        { ids: ['x'] },
        { ids: [] },
        { ids: ['00000000-0000-4000-8000-000000000000'], at: '2999-01-01T00:00:00Z' },
      ]) {
        try {
          await (nodes[0] as Node).broker.call('devices.heartbeat', params, {
            meta: { user: { id: 't', role: 'technician' } },
          });
          expect.fail(`accepted ${JSON.stringify(params).slice(0, 60)}`);
        } catch (err) {
          expect((err as { code?: number }).code, JSON.stringify(params).slice(0, 60)).to.be.oneOf([
            400, 422,
          ]);
        }
      }
    });
  });
});
