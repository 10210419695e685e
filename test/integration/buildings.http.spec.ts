import { expect } from 'chai';
import type { Problem } from '../../services/gateway/problem';
import { QueryTypes } from 'sequelize';
import { testDb, unique, type TestDb } from '../helpers/db';
import { gatewayUrl, http, login, startNode, useToken, waitForAction, type Node } from '../helpers/platform';

type Page = {
  data: Record<string, unknown>[];
  page: { limit: number; nextCursor: string | null; hasMore: boolean };
  total?: number;
};

/** A square polygon of `side` degrees with its south-west corner at (lng, lat). */
const square = (lng: number, lat: number, side: number) => ({
  type: 'Polygon',
  coordinates: [
    [
      [lng, lat],
      [lng + side, lat],
      [lng + side, lat + side],
      [lng, lat + side],
      [lng, lat],
    ],
  ],
});

describe('buildings, floors and rooms over HTTP → gateway → RabbitMQ → buildings service', function () {
  this.timeout(60_000);
  let gateway: Node;
  let nodeA: Node;
  let nodeB: Node;
  let users: Node;
  let api: string;
  let db: TestDb;

  before(async function () {
    db = await testDb();
    // three brokers, as three processes would be: the gateway, and two instances of buildings
    [gateway, nodeA, nodeB, users] = await Promise.all([
      startNode(['gateway']),
      startNode(['buildings']),
      startNode(['buildings']),
      startNode(['users']),
    ]);
    await waitForAction(gateway.broker, 'buildings.get', 2);
    await waitForAction(gateway.broker, 'users.login');
    api = gatewayUrl(gateway);
    useToken(await login(api));
  });
  after(async function () {
    useToken(undefined);
    await Promise.all([gateway, nodeA, nodeB, users].map((n) => n?.broker.stop()));
  });

  const createBuilding = async (extra: Record<string, unknown> = {}) => {
    const res = await http('POST', `${api}/buildings`, { name: 'HQ', code: unique('B'), ...extra });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  };
  const expectProblem = (
    res: { status: number; headers: Headers; body: unknown },
    status: number,
    code: string,
    field?: string,
  ) => {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
    const p = res.body as Problem;
    expect(p).to.include({ status, code });
    expect(p.type).to.be.a('string');
    expect(p.title).to.be.a('string');
    expect(p.requestId).to.equal(res.headers.get('x-request-id'));
    expect(JSON.stringify(p)).to.not.match(/stack|SELECT|INSERT|sequelize|at \//i);
    if (field) expect(p.errors.map((e) => e.field)).to.include(field);
    return p;
  };

  describe('buildings', function () {
    it('creates with 201, Location, ETag and the request id it was given', async function () {
      const res = await http(
        'POST',
        `${api}/buildings`,
        { name: 'Tower', code: unique('T'), status: 'active' },
        { 'X-Request-ID': 'client-req-1' },
      );
      expect(res.status).to.equal(201);
      expect(res.headers.get('location')).to.equal(`/api/v1/buildings/${String(res.body.id)}`);
      expect(res.headers.get('etag')).to.equal('W/"0"');
      expect(res.headers.get('x-request-id')).to.equal('client-req-1');
      expect(res.body).to.include({ name: 'Tower', status: 'active', version: 0 });
      const [record] = await db.database.sequelize.query<{ request_id: string }>(
        'SELECT request_id FROM change_records WHERE entity_id = :id',
        { replacements: { id: res.body.id }, type: QueryTypes.SELECT },
      );
      expect(record?.request_id).to.equal('client-req-1');
    });

    it('replaces an insane X-Request-ID with a UUID', async function () {
      const res = await http('GET', `${api}/buildings?limit=1`, undefined, {
        'X-Request-ID': 'bad id with spaces',
      });
      expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    });

    it('gets with an ETag, answers If-None-Match with 304, updates with If-Match, refuses a stale one with 412', async function () {
      const b = await createBuilding();
      const got = await http('GET', `${api}/buildings/${String(b.id)}`);
      expect(got.status).to.equal(200);
      expect(got.headers.get('etag')).to.equal('W/"0"');
      expect(
        (await http('GET', `${api}/buildings/${String(b.id)}`, undefined, { 'If-None-Match': 'W/"0"' }))
          .status,
      ).to.equal(304);

      const patched = await http(
        'PATCH',
        `${api}/buildings/${String(b.id)}`,
        { name: 'HQ 2' },
        { 'If-Match': 'W/"0"' },
      );
      expect(patched.status).to.equal(200);
      expect(patched.body).to.include({ name: 'HQ 2', version: 1 });
      expect(patched.headers.get('etag')).to.equal('W/"1"');

      const stale = await http(
        'PATCH',
        `${api}/buildings/${String(b.id)}`,
        { name: 'lost' },
        { 'If-Match': 'W/"0"' },
      );
      expectProblem(stale, 412, 'PRECONDITION_FAILED');
      const staleDelete = await http('DELETE', `${api}/buildings/${String(b.id)}`, undefined, {
        'If-Match': '"0"',
      });
      expectProblem(staleDelete, 412, 'PRECONDITION_FAILED');
      // without If-Match the write applies to the current version
      expect((await http('PATCH', `${api}/buildings/${String(b.id)}`, { name: 'HQ 3' })).body).to.include({
        version: 2,
      });
    });

    it('soft-deletes with 204, hides the row (404), restores it (200) and shows the history newest first', async function () {
      const b = await createBuilding();
      const del = await http('DELETE', `${api}/buildings/${String(b.id)}`);
      expect(del.status).to.equal(204);
      expectProblem(await http('GET', `${api}/buildings/${String(b.id)}`), 404, 'NOT_FOUND');
      const list = await http<Page>('GET', `${api}/buildings?code=${String(b.code)}`);
      expect(list.body.data).to.have.length(0);
      const withDeleted = await http<Page>('GET', `${api}/buildings?code=${String(b.code)}&deleted=include`);
      expect(withDeleted.body.data[0]?.deletedAt).to.be.a('string');

      const restored = await http('POST', `${api}/buildings/${String(b.id)}/restore`);
      expect(restored.status).to.equal(200);
      expect(restored.body).to.include({ id: b.id, version: 2 });
      expectProblem(await http('POST', `${api}/buildings/${String(b.id)}/restore`), 409, 'CONFLICT');

      const history = await http<Page>('GET', `${api}/buildings/${String(b.id)}/history?limit=2`);
      expect(history.body.data.map((h) => h.action)).to.deep.equal(['restore', 'delete']);
      expect(history.body.page.hasMore).to.equal(true);
      const rest = await http<Page>(
        'GET',
        `${api}/buildings/${String(b.id)}/history?limit=2&cursor=${String(history.body.page.nextCursor)}`,
      );
      expect(rest.body.data.map((h) => h.action)).to.deep.equal(['create']);
    });

    it('lets a deleted code be reused and refuses the clashing restore with 409 naming code', async function () {
      const code = unique('C');
      const first = await createBuilding({ code });
      expectProblem(await http('POST', `${api}/buildings`, { name: 'dup', code }), 409, 'CONFLICT', 'code');
      await http('DELETE', `${api}/buildings/${String(first.id)}`);
      await createBuilding({ code });
      expectProblem(
        await http('POST', `${api}/buildings/${String(first.id)}/restore`),
        409,
        'CONFLICT',
        'code',
      );
    });

    it('refuses bad input with a 4xx problem naming the field, never a 500', async function () {
      expectProblem(
        await http('POST', `${api}/buildings`, { name: 'x', code: unique('x'), createdBy: 'me' }),
        400,
        'VALIDATION_FAILED',
        'createdBy',
      );
      expectProblem(
        await http('POST', `${api}/buildings`, { name: 'x', code: unique('x'), version: 3 }),
        400,
        'VALIDATION_FAILED',
        'version',
      );
      expectProblem(await http('POST', `${api}/buildings`, { name: 'x' }), 400, 'VALIDATION_FAILED', 'code');
      expectProblem(
        await http('POST', `${api}/buildings`, { name: 'x', code: unique('x'), status: 'gone' }),
        400,
        'VALIDATION_FAILED',
        'status',
      );
      expectProblem(
        await http('POST', `${api}/buildings`, '{"name": "x",'),
        400,
        'VALIDATION_FAILED',
        'body',
      );
      expectProblem(await http('POST', `${api}/buildings`, '[1,2]'), 400, 'VALIDATION_FAILED', 'body');
      expectProblem(
        await http('POST', `${api}/buildings`, 'name=x', { 'content-type': 'text/plain' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        'Content-Type',
      );
      expectProblem(
        await http('POST', `${api}/buildings`, {
          name: 'x',
          code: 'y',
          metadata: { blob: 'z'.repeat(1.1 * 1024 * 1024) },
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      expectProblem(await http('GET', `${api}/buildings?colour=red`), 400, 'VALIDATION_FAILED', 'colour');
      expectProblem(
        await http('GET', `${api}/buildings?name__like=x`),
        400,
        'VALIDATION_FAILED',
        'name__like',
      );
      expectProblem(await http('GET', `${api}/buildings?sort=-colour`), 400, 'VALIDATION_FAILED', 'sort');
      expectProblem(await http('GET', `${api}/buildings?limit=9999`), 400, 'VALIDATION_FAILED', 'limit');
      expectProblem(await http('GET', `${api}/buildings?cursor=bogus`), 400, 'VALIDATION_FAILED', 'cursor');
      expectProblem(await http('GET', `${api}/buildings?a[b]=c`), 400, 'VALIDATION_FAILED');
      expectProblem(await http('GET', `${api}/buildings/not-a-uuid`), 400, 'VALIDATION_FAILED', 'id');
      expectProblem(
        await http('GET', `${api}/buildings/00000000-0000-4000-8000-000000000000`),
        404,
        'NOT_FOUND',
      );
      expectProblem(
        await http('PATCH', `${api}/buildings/00000000-0000-4000-8000-000000000000`, { name: 'x' }),
        404,
        'NOT_FOUND',
      );
      expectProblem(await http('GET', `${api}/nothing-here`), 404, 'NOT_FOUND');
      expectProblem(
        await http('DELETE', `${api}/buildings/00000000-0000-4000-8000-000000000000?cascade=maybe`),
        400,
        'VALIDATION_FAILED',
        'cascade',
      );
      expectProblem(
        await http(
          'PATCH',
          `${api}/buildings/00000000-0000-4000-8000-000000000000`,
          { name: 'x' },
          { 'If-Match': 'nonsense' },
        ),
        412,
        'PRECONDITION_FAILED',
      );
    });

    it('lists with filters, sort, limit, count and a cursor', async function () {
      const tag = unique('L');
      for (let i = 0; i < 5; i += 1)
        await createBuilding({ name: `N${i}`, yearBuilt: 2000 + i, metadata: { tag } });
      const first = await http<Page>(
        'GET',
        `${api}/buildings?metadata.tag=${tag}&sort=-yearBuilt&limit=2&count=true&yearBuilt__gte=2001`,
      );
      expect(first.status).to.equal(200);
      expect(first.body.data.map((b) => b.yearBuilt)).to.deep.equal([2004, 2003]);
      expect(first.body.total).to.equal(4);
      expect(first.body.page).to.include({ limit: 2, hasMore: true });
      const second = await http<Page>(
        'GET',
        `${api}/buildings?metadata.tag=${tag}&sort=-yearBuilt&limit=2&yearBuilt__gte=2001&cursor=${String(first.body.page.nextCursor)}`,
      );
      expect(second.body.data.map((b) => b.yearBuilt)).to.deep.equal([2002, 2001]);
      expect(second.body.page).to.deep.equal({ limit: 2, hasMore: false, nextCursor: null });
    });
  });

  describe('floors and rooms', function () {
    it('creates floors under a building, lists them nested and flat, and refuses a duplicate level naming level', async function () {
      const b = await createBuilding();
      const f = await http('POST', `${api}/buildings/${String(b.id)}/floors`, { name: 'Ground', level: 0 });
      expect(f.status).to.equal(201);
      expect(f.headers.get('location')).to.equal(`/api/v1/floors/${String(f.body.id)}`);
      expect(f.body.buildingId).to.equal(b.id);
      expectProblem(
        await http('POST', `${api}/floors`, { buildingId: b.id, name: 'Again', level: 0 }),
        409,
        'CONFLICT',
        'level',
      );
      expectProblem(
        await http('POST', `${api}/buildings/${String(b.id)}/floors`, {
          name: 'x',
          level: 1,
          buildingId: '00000000-0000-4000-8000-000000000000',
        }),
        400,
        'VALIDATION_FAILED',
        'buildingId',
      );
      const nested = await http<Page>('GET', `${api}/buildings/${String(b.id)}/floors`);
      expect(nested.body.data.map((x) => x.id)).to.deep.equal([f.body.id]);
      const flat = await http<Page>('GET', `${api}/floors?buildingId=${String(b.id)}`);
      expect(flat.body.data.map((x) => x.id)).to.deep.equal([f.body.id]);
      expectProblem(
        await http('GET', `${api}/buildings/00000000-0000-4000-8000-000000000000/floors`),
        404,
        'NOT_FOUND',
      );
      expectProblem(
        await http('POST', `${api}/floors`, {
          buildingId: '00000000-0000-4000-8000-000000000000',
          name: 'x',
          level: 1,
        }),
        400,
        'VALIDATION_FAILED',
        'buildingId',
      );
    });

    it('computes a room area with PostGIS, derives buildingId and refuses to be told either', async function () {
      const b = await createBuilding();
      const f = (await http('POST', `${api}/buildings/${String(b.id)}/floors`, { name: 'F1', level: 1 }))
        .body;
      const geometry = square(13.4, 52.5, 0.0001);
      const room = await http('POST', `${api}/floors/${String(f.id)}/rooms`, {
        name: 'Office',
        number: '1.01',
        geometry,
      });
      expect(room.status, JSON.stringify(room.body)).to.equal(201);
      expect(room.body.buildingId).to.equal(b.id);
      const [expected] = await db.database.sequelize.query<{ area: number }>(
        'SELECT ST_Area(ST_GeomFromGeoJSON(:g)::geography) AS area',
        { replacements: { g: JSON.stringify(geometry) }, type: QueryTypes.SELECT },
      );
      expect(room.body.area).to.be.closeTo(Number(expected?.area), 0.01);
      expect(Number(room.body.area)).to.be.within(45, 80); // ~7.6 m x 11.1 m at 52.5°N

      const bigger = await http('PATCH', `${api}/rooms/${String(room.body.id)}`, {
        geometry: square(13.4, 52.5, 0.0002),
      });
      expect(Number(bigger.body.area)).to.be.closeTo(Number(room.body.area) * 4, 1);
      expectProblem(
        await http('PATCH', `${api}/rooms/${String(room.body.id)}`, { area: 5 }),
        400,
        'VALIDATION_FAILED',
        'area',
      );
      expectProblem(
        await http('PATCH', `${api}/rooms/${String(room.body.id)}`, { buildingId: b.id }),
        400,
        'VALIDATION_FAILED',
        'buildingId',
      );
      expectProblem(
        await http('POST', `${api}/floors/${String(f.id)}/rooms`, { name: 'dup', number: '1.01' }),
        409,
        'CONFLICT',
        'number',
      );
    });

    it('refuses invalid GeoJSON naming the field: wrong type, out of range, unclosed ring, self-intersection', async function () {
      const b = await createBuilding();
      const f = (await http('POST', `${api}/buildings/${String(b.id)}/floors`, { name: 'F', level: 2 })).body;
      const post = (geometry: unknown) =>
        http('POST', `${api}/floors/${String(f.id)}/rooms`, { name: 'R', number: unique('n'), geometry });
      expectProblem(await post({ type: 'Point', coordinates: [1, 2] }), 400, 'VALIDATION_FAILED', 'geometry');
      expectProblem(
        await post({
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [1, 1],
              [0, 2],
            ],
          ],
        }),
        400,
        'VALIDATION_FAILED',
        'geometry.coordinates[0]',
      );
      expectProblem(
        await post({
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 0],
              [0, 0],
            ],
          ],
        }),
        400,
        'VALIDATION_FAILED',
        'geometry.coordinates[0]',
      );
      expectProblem(
        await post({
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [200, 0],
              [1, 1],
              [0, 0],
            ],
          ],
        }),
        400,
        'VALIDATION_FAILED',
        'geometry.coordinates[0][1]',
      );
      // a bow tie: closed, four corners, but crossing itself
      expectProblem(
        await post({
          type: 'Polygon',
          coordinates: [
            [
              [0, 0],
              [1, 1],
              [1, 0],
              [0, 1],
              [0, 0],
            ],
          ],
        }),
        400,
        'VALIDATION_FAILED',
        'geometry',
      );
      expectProblem(
        await http('POST', `${api}/buildings`, {
          name: 'x',
          code: unique('g'),
          location: { type: 'Point', coordinates: [10, 95] },
        }),
        400,
        'VALIDATION_FAILED',
        'location.coordinates',
      );
    });

    it('deletes a building with live floors only with cascade=true, and restore brings back exactly that subtree', async function () {
      const b = await createBuilding();
      const floors = [];
      for (const level of [0, 1])
        floors.push(
          (await http('POST', `${api}/buildings/${String(b.id)}/floors`, { name: `F${level}`, level })).body,
        );
      const rooms = [];
      for (const f of floors) {
        for (const n of ['a', 'b'])
          rooms.push(
            (await http('POST', `${api}/floors/${String(f.id)}/rooms`, { name: n, number: n })).body,
          );
      }
      const alone = rooms[0] ?? {};
      expect((await http('DELETE', `${api}/rooms/${String(alone.id)}`)).status).to.equal(204);

      expectProblem(await http('DELETE', `${api}/buildings/${String(b.id)}`), 409, 'CONFLICT', 'cascade');
      expectProblem(
        await http('DELETE', `${api}/floors/${String(floors[0]?.id)}`),
        409,
        'CONFLICT',
        'cascade',
      );
      expect((await http('DELETE', `${api}/buildings/${String(b.id)}?cascade=true`)).status).to.equal(204);
      for (const f of floors)
        expectProblem(await http('GET', `${api}/floors/${String(f.id)}`), 404, 'NOT_FOUND');
      expect((await http<Page>('GET', `${api}/rooms?buildingId=${String(b.id)}`)).body.data).to.have.length(
        0,
      );
      expectProblem(
        await http('POST', `${api}/floors/${String(floors[0]?.id)}/restore`),
        409,
        'CONFLICT',
        'buildingId',
      );

      expect((await http('POST', `${api}/buildings/${String(b.id)}/restore`)).status).to.equal(200);
      const live = await http<Page>('GET', `${api}/rooms?buildingId=${String(b.id)}`);
      expect(live.body.data.map((r) => r.id)).to.have.members(rooms.slice(1).map((r) => r.id));
      expect((await http<Page>('GET', `${api}/buildings/${String(b.id)}/floors`)).body.data).to.have.length(
        2,
      );
      expectProblem(await http('GET', `${api}/rooms/${String(alone.id)}`), 404, 'NOT_FOUND');
    });
  });

  describe('spatial queries against known coordinates', function () {
    const places: [string, number, number][] = [
      ['TV tower', 13.4094, 52.5208],
      ['Brandenburg Gate', 13.3777, 52.5163],
      ['Tempelhof', 13.4019, 52.4731],
      ['Hamburg town hall', 9.9921, 53.5503],
    ];
    let tag: string;
    before(async function () {
      tag = unique('geo');
      for (const [name, lng, lat] of places) {
        await createBuilding({
          name,
          location: { type: 'Point', coordinates: [lng, lat] },
          metadata: { tag },
        });
      }
    });

    it('answers near + radius sorted by distance, each distance agreeing with PostGIS to 1 m', async function () {
      const res = await http<Page>(
        'GET',
        `${api}/buildings?metadata.tag=${tag}&near=13.4094,52.5208&radius=6000`,
      );
      expect(res.body.data.map((b) => b.name)).to.deep.equal(['TV tower', 'Brandenburg Gate', 'Tempelhof']);
      for (const b of res.body.data) {
        const [lng, lat] = (b.location as { coordinates: number[] }).coordinates;
        const [row] = await db.database.sequelize.query<{ d: number }>(
          `SELECT ST_Distance(ST_SetSRID(ST_MakePoint(:lng, :lat), 4326)::geography, ST_SetSRID(ST_MakePoint(13.4094, 52.5208), 4326)::geography) AS d`,
          { replacements: { lng, lat }, type: QueryTypes.SELECT },
        );
        expect(Number(b.distance)).to.be.closeTo(Number(row?.d), 1);
      }
      // Brandenburg Gate is ~2.2 km west of the TV tower, Tempelhof ~5.4 km south
      expect(Number(res.body.data[1]?.distance)).to.be.within(2000, 2400);
      expect(Number(res.body.data[2]?.distance)).to.be.within(5000, 5600);
    });

    it('answers bbox and sorts near results by another key when asked', async function () {
      const box = await http<Page>('GET', `${api}/buildings?metadata.tag=${tag}&bbox=13.3,52.5,13.5,52.6`);
      expect(box.body.data.map((b) => b.name)).to.have.members(['TV tower', 'Brandenburg Gate']);
      const byName = await http<Page>(
        'GET',
        `${api}/buildings?metadata.tag=${tag}&near=13.4094,52.5208&radius=6000&sort=name`,
      );
      expect(byName.body.data.map((b) => b.name)).to.deep.equal([
        'Brandenburg Gate',
        'TV tower',
        'Tempelhof',
      ]);
    });

    it('finds the room containing a point', async function () {
      const b = await createBuilding();
      const f = (await http('POST', `${api}/buildings/${String(b.id)}/floors`, { name: 'F', level: 0 })).body;
      const west = (
        await http('POST', `${api}/floors/${String(f.id)}/rooms`, {
          name: 'W',
          number: 'w',
          geometry: square(20, 40, 0.001),
        })
      ).body;
      await http('POST', `${api}/floors/${String(f.id)}/rooms`, {
        name: 'E',
        number: 'e',
        geometry: square(20.002, 40, 0.001),
      });
      const hit = await http<Page>(
        'GET',
        `${api}/floors/${String(f.id)}/rooms?containsPoint=20.0005,40.0005`,
      );
      expect(hit.body.data.map((r) => r.id)).to.deep.equal([west.id]);
      expectProblem(
        await http('GET', `${api}/buildings?containsPoint=1,1`),
        400,
        'VALIDATION_FAILED',
        'containsPoint',
      );
    });
  });

  describe('caching', function () {
    it('serves a repeated read from the cache', async function () {
      const b = await createBuilding();
      const hitsBefore = nodeA.cache.stats().hits + nodeB.cache.stats().hits;
      await http('GET', `${api}/buildings/${String(b.id)}`);
      await http('GET', `${api}/buildings/${String(b.id)}`);
      await http('GET', `${api}/buildings/${String(b.id)}`);
      expect(nodeA.cache.stats().hits + nodeB.cache.stats().hits - hitsBefore).to.be.at.least(2);
    });

    it('invalidates on write: a read through the other instance sees the change at once', async function () {
      const b = await createBuilding({ name: 'before' });
      const a = nodeA.broker.nodeID;
      const other = nodeB.broker.nodeID;
      const get = (nodeID: string) =>
        gateway.broker.call<Record<string, unknown>, unknown>('buildings.get', { id: b.id }, { nodeID });
      const list = (nodeID: string) =>
        gateway.broker.call<Page, unknown>('buildings.list', { query: { code: String(b.code) } }, { nodeID });
      expect(await get(other)).to.include({ name: 'before' }); // cached now
      expect((await list(other)).data[0]).to.include({ name: 'before' });
      await gateway.broker.call('buildings.update', { id: b.id, data: { name: 'after' } }, { nodeID: a });
      expect(await get(other)).to.include({ name: 'after' });
      expect((await list(other)).data[0]).to.include({ name: 'after' });
      await gateway.broker.call('buildings.remove', { id: b.id }, { nodeID: a });
      try {
        await get(other);
        expect.fail('a deleted building must not come from the cache');
      } catch (err) {
        expect(err).to.include({ type: 'NOT_FOUND' });
      }
    });
  });
});
