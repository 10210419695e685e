import { expect } from 'chai';
import { unique } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';

/** Inputs a careless or hostile client sends: every one must get a 4xx problem, never a 500. */
describe('no input causes a 500', function () {
  this.timeout(60_000);
  let nodes: Node[];
  let api: string;
  let building: string;

  before(async function () {
    nodes = await Promise.all([
      startNode(['gateway', 'users']),
      startNode(['buildings', 'devices', 'events']),
    ]);
    const gateway = nodes[0] as Node;
    for (const a of ['users.login', 'buildings.get', 'devices.get', 'events.list'])
      await waitForAction(gateway.broker, a);
    api = gatewayUrl(gateway);
    useToken(await login(api));
    building = String((await http('POST', `${api}/buildings`, { name: 'R', code: unique('R') })).body.id);
  });
  after(async function () {
    useToken(undefined);
    await Promise.all(nodes.map((n) => n.broker.stop()));
  });

  const queries = [
    'limit=1e3',
    'limit=-1',
    'limit=',
    'yearBuilt__gt=1e400',
    'yearBuilt=99999999999',
    'grossArea__lt=NaN',
    'createdAt__gte=2026-13-45T99:99:99Z',
    'near=1e400,0&radius=10',
    'near=0,0&radius=Infinity',
    'bbox=a,b,c,d',
    'metadata.x=%00',
    'name=%00',
    'q=%25%5F%5C',
    'sort=',
    'sort=,,',
    'sort=-',
    'cursor=eyJzIjoiLWNyZWF0ZWRBdCxpZCIsInYiOlsibm90IGEgZGF0ZSIsIngiXX0',
    'id=not-a-uuid',
    'status[$ne]=x',
    'deleted=include&deleted=only',
    'count=1',
    `${'a'.repeat(5000)}=1`,
  ];
  for (const q of queries) {
    it(`GET /buildings?${q.slice(0, 60)}`, async function () {
      const res = await http('GET', `${api}/buildings?${q}`);
      expect(res.status, JSON.stringify(res.body)).to.be.within(200, 499);
      if (res.status >= 400) expect(res.body.code).to.be.a('string');
    });
  }

  const bodies: [string, unknown][] = [
    ['a huge integer', { yearBuilt: 1e308 }],
    ['a negative zero area', { grossArea: -0.0000001 }],
    [
      'a nested metadata bomb',
      { metadata: JSON.parse('{"a":'.repeat(200) + '1' + '}'.repeat(200)) as unknown },
    ],
    ['a NUL in a name', { name: 'a\u0000b' }],
    ['a NUL in metadata', { metadata: { k: 'a\u0000b' } }],
    ['a name of the wrong type', { name: ['x'] }],
    [
      'a polygon with 3 numbers a position',
      {
        footprint: {
          type: 'Polygon',
          coordinates: [
            [
              [0, 0, 0, 0],
              [1, 0],
              [1, 1],
              [0, 0],
            ],
          ],
        },
      },
    ],
    ['a point with strings', { location: { type: 'Point', coordinates: ['1', '2'] } }],
    ['a point with NaN-ish', { location: { type: 'Point', coordinates: [null, 2] } }],
    ['an empty object', {}],
    ['null', null],
    ['a string', 'hello'],
    ['a number', 42],
  ];
  for (const [what, body] of bodies) {
    it(`PATCH /buildings/{id} with ${what}`, async function () {
      const res = await http('PATCH', `${api}/buildings/${building}`, body);
      expect(res.status, JSON.stringify(res.body)).to.be.within(200, 499);
    });
  }

  it('answers other paths and methods with 4xx', async function () {
    for (const [method, path] of [
      ['PUT', `/buildings/${building}`],
      ['GET', '/buildings/%E0%A4%A'],
      ['GET', `/buildings/${building}/history?limit=0`],
      ['GET', `/buildings/${building}/history?cursor=x`],
      ['POST', `/buildings/${building}/floors`],
      ['GET', '/events?after=99999999999999999999'],
      ['GET', '/devices?roomId=x'],
    ]) {
      const res = await http(method ?? 'GET', `${api}${path ?? ''}`, method === 'GET' ? undefined : {});
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).to.be.within(400, 499);
    }
  });
});
