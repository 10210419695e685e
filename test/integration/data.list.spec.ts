import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { testDb, unique, type TestDb } from '../helpers/db';

describe('lists on the real PostgreSQL: filters, sort, keyset paging', function () {
  let db: TestDb;
  let tag: string;
  const years = [1901, 1950, 1950, 1999, 2010, 2020];

  before(async function () {
    this.timeout(60_000);
    db = await testDb();
    tag = unique('list');
    for (const [i, yearBuilt] of years.entries()) {
      await db.data.create('building', {
        name: i === 0 ? `Old_Mill 100% ${tag}` : `Block ${i} ${tag}`,
        code: `${tag}-${i}`,
        status: i % 2 === 0 ? 'active' : 'planned',
        yearBuilt,
        address: i < 2 ? null : `Street ${i}`,
        metadata: { tag, region: i < 3 ? 'north' : 'south' },
      });
    }
  });

  const list = (query: Record<string, unknown>) =>
    db.data.list('building', { 'metadata.tag': tag, ...query });
  const codes = async (query: Record<string, unknown>) => (await list(query)).data.map((r) => r.code);

  it('filters by equality, repeated equality (OR), __in, ranges, __ic, __isnull, metadata and q', async function () {
    expect(await codes({ status: 'active' })).to.have.length(3);
    expect(await codes({ status: ['active', 'planned'] })).to.have.length(6);
    expect(await codes({ code__in: `${tag}-1,${tag}-2` })).to.have.members([`${tag}-1`, `${tag}-2`]);
    expect(await codes({ yearBuilt__gte: '1950', yearBuilt__lt: '2010' })).to.have.length(3);
    expect(await codes({ yearBuilt__gt: '2010' })).to.deep.equal([`${tag}-5`]);
    expect(await codes({ name__ic: 'OLD_MILL 100%' })).to.deep.equal([`${tag}-0`]);
    // LIKE wildcards in the value are literal: '_' matches only '_'
    expect(await codes({ name__ic: 'Old Mill' })).to.deep.equal([]);
    expect(await codes({ address__isnull: 'true' })).to.have.members([`${tag}-0`, `${tag}-1`]);
    expect(await codes({ address__isnull: 'false' })).to.have.length(4);
    expect(await codes({ 'metadata.region': 'south' })).to.have.length(3);
    expect(await codes({ q: 'block 3' })).to.deep.equal([`${tag}-3`]);
  });

  it('sorts by several keys with nulls last ascending and first descending', async function () {
    expect(await codes({ sort: 'yearBuilt,code' })).to.deep.equal(
      [0, 1, 2, 3, 4, 5].map((i) => `${tag}-${i}`),
    );
    expect(await codes({ sort: '-yearBuilt,code' })).to.deep.equal(
      [5, 4, 3, 1, 2, 0].map((i) => `${tag}-${i}`),
    );
    const byAddress = await codes({ sort: '-address,code' });
    expect(byAddress.slice(0, 2)).to.deep.equal([`${tag}-0`, `${tag}-1`]);
  });

  it('counts when asked and says whether there is more', async function () {
    const page = await list({ limit: '4', count: 'true' });
    expect(page.total).to.equal(6);
    expect(page.page).to.include({ limit: 4, hasMore: true });
    expect(page.page.nextCursor).to.be.a('string');
    const rest = await list({ limit: '4', cursor: page.page.nextCursor });
    expect(rest.data).to.have.length(2);
    expect(rest.page).to.deep.equal({ limit: 4, hasMore: false, nextCursor: null });
  });

  for (const sort of ['-createdAt', 'yearBuilt', '-address,name', 'name']) {
    it(`pages through every row exactly once by ${sort}, limit 1`, async function () {
      const seen: unknown[] = [];
      let cursor: string | null = null;
      do {
        const page = await list({ sort, limit: '1', ...(cursor ? { cursor } : {}) });
        seen.push(...page.data.map((r) => r.code));
        cursor = page.page.nextCursor;
      } while (cursor);
      expect(seen).to.have.length(6);
      expect(new Set(seen).size).to.equal(6);
    });
  }

  it('visits every row exactly once while rows are being inserted', async function () {
    this.timeout(60_000);
    const runTag = unique('paging');
    const initial = 120;
    for (let i = 0; i < initial; i += 1) {
      await db.data.create('building', { name: `P${i}`, code: `${runTag}-${i}`, metadata: { tag: runTag } });
    }
    let inserting = true;
    let inserted = 0;
    const writer = (async () => {
      while (inserting) {
        await db.data.create('building', {
          name: 'late',
          code: `${runTag}-late-${inserted}`,
          metadata: { tag: runTag },
        });
        inserted += 1;
      }
    })();
    const seen = new Map<unknown, number>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await db.data.list('building', {
        'metadata.tag': runTag,
        limit: '7',
        ...(cursor ? { cursor } : {}),
      });
      for (const r of page.data) seen.set(r.code, (seen.get(r.code) ?? 0) + 1);
      cursor = page.page.nextCursor;
      pages += 1;
    } while (cursor);
    inserting = false;
    await writer;
    const original = [...Array(initial).keys()].map((i) => `${runTag}-${i}`);
    for (const code of original) expect(seen.get(code), code).to.equal(1);
    expect([...seen.values()].every((n) => n === 1)).to.equal(true);
    expect(inserted).to.be.greaterThan(0);
    expect(pages).to.be.greaterThan(initial / 7);
  });

  it('lists soft-deleted rows only when deleted= asks', async function () {
    const b = await db.data.create('building', { name: 'gone', code: unique('gone'), metadata: { tag } });
    await db.data.remove('building', b.id);
    expect(await codes({})).to.not.include(b.code);
    expect(await codes({ deleted: 'include' })).to.include(b.code);
    expect(await codes({ deleted: 'only' })).to.deep.equal([b.code]);
  });

  it('answers spatial filters with PostGIS: near with distance, bbox, containsPoint', async function () {
    const here = unique('geo');
    // Berlin TV tower, Brandenburg Gate, and Hamburg town hall
    const places: [string, number, number][] = [
      ['tower', 13.4094, 52.5208],
      ['gate', 13.3777, 52.5163],
      ['hamburg', 9.9921, 53.5503],
    ];
    for (const [name, lng, lat] of places) {
      await db.data.create('building', {
        name,
        code: `${here}-${name}`,
        location: { type: 'Point', coordinates: [lng, lat] },
        metadata: { tag: here },
      });
    }
    const near = await db.data.list('building', {
      'metadata.tag': here,
      near: '13.4094,52.5208',
      radius: '5000',
    });
    expect(near.data.map((r) => r.name)).to.deep.equal(['tower', 'gate']);
    expect(near.data[0]?.distance).to.be.closeTo(0, 0.01);
    const [expected] = await db.database.sequelize.query<{ d: number }>(
      `SELECT ST_Distance('SRID=4326;POINT(13.3777 52.5163)'::geography, 'SRID=4326;POINT(13.4094 52.5208)'::geography) AS d`,
      { type: QueryTypes.SELECT },
    );
    expect(near.data[1]?.distance).to.be.closeTo(Number(expected?.d), 1);
    expect(near.data[1]?.location).to.deep.equal({ type: 'Point', coordinates: [13.3777, 52.5163] });

    const inBox = await db.data.list('building', { 'metadata.tag': here, bbox: '9,53,11,54' });
    expect(inBox.data.map((r) => r.name)).to.deep.equal(['hamburg']);
  });
});
