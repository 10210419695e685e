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
});
