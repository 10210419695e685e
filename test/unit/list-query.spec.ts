import { expect } from 'chai';
import { Sequelize } from 'sequelize';
import { defineModels } from '../../shared/db';
import { parseListQuery, type QueryInput } from '../../shared/data';
import { decodeCursor, encodeCursor } from '../../shared/data/cursor';
import { buildingResources } from '../../services/buildings/buildings.resources';

// models need a Sequelize instance, not a connection: nothing here talks to PostgreSQL
const resources = buildingResources(
  defineModels(new Sequelize('postgres://nobody@127.0.0.1:1/none', { logging: false })),
);
function must<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('resource missing');
  return v;
}
const building = must(resources.building);
const room = must(resources.room);

function fieldsOfError(query: QueryInput, resource = building): string[] {
  try {
    parseListQuery(resource, query);
  } catch (err) {
    expect(err).to.include({ type: 'VALIDATION_FAILED', code: 400 });
    const data = (err as { data?: { errors?: { field: string }[] } }).data;
    return (data?.errors ?? []).map((e) => e.field);
  }
  throw new Error('expected VALIDATION_FAILED');
}

describe('list query grammar (API.md "Lists")', function () {
  it('defaults to 50 rows, newest first, id as tie-breaker', function () {
    const spec = parseListQuery(building, {});
    expect(spec.limit).to.equal(50);
    expect(spec.sort.map((s) => [s.field, s.desc])).to.deep.equal([
      ['createdAt', true],
      ['id', true],
    ]);
    expect(spec.deleted).to.equal('exclude');
    expect(spec.count).to.equal(false);
  });

  it('rejects an unknown filter field with 400 naming the field', function () {
    expect(fieldsOfError({ colour: 'red' })).to.deep.equal(['colour']);
  });

  it('rejects an unknown operator naming the parameter', function () {
    expect(fieldsOfError({ name__like: 'x' })).to.deep.equal(['name__like']);
  });

  it('rejects an unknown sort key naming sort', function () {
    expect(fieldsOfError({ sort: 'name,-colour' })).to.deep.equal(['sort']);
  });

  it('rejects a value of the wrong type naming the parameter', function () {
    expect(
      fieldsOfError({ yearBuilt__gte: 'old', status: 'demolished', createdAt__lt: 'yesterday' }),
    ).to.have.members(['yearBuilt__gte', 'status', 'createdAt__lt']);
  });

  it('rejects limits outside 1..500 and bad deleted / count values', function () {
    expect(fieldsOfError({ limit: '0' })).to.deep.equal(['limit']);
    expect(fieldsOfError({ limit: '501' })).to.deep.equal(['limit']);
    expect(fieldsOfError({ deleted: 'yes' })).to.deep.equal(['deleted']);
    expect(fieldsOfError({ count: 'maybe' })).to.deep.equal(['count']);
  });

  it('accepts every operator on a field of a fitting type', function () {
    const spec = parseListQuery(building, {
      status: ['active', 'planned'],
      code__in: 'A,B',
      yearBuilt__gt: '1900',
      yearBuilt__lte: '2000',
      name__ic: '50%_off',
      address__isnull: 'false',
      'metadata.region': 'north',
      q: 'tower',
      sort: 'name,-yearBuilt',
      limit: '500',
      count: 'true',
      deleted: 'include',
    });
    expect(spec.where).to.have.length(8);
    expect(spec.sort.map((s) => s.field)).to.deep.equal(['name', 'yearBuilt', 'id']);
    expect(spec.sort.find((s) => s.field === 'yearBuilt')?.nullable).to.equal(true);
    expect(spec.sort.find((s) => s.field === 'name')?.nullable).to.equal(false);
    expect(spec).to.include({ limit: 500, count: true, deleted: 'include' });
  });

  it("refuses 'ic' on a number and ranges on a uuid", function () {
    expect(fieldsOfError({ yearBuilt__ic: '19' })).to.deep.equal(['yearBuilt__ic']);
    expect(fieldsOfError({ id__gt: '00000000-0000-4000-8000-000000000000' })).to.deep.equal(['id__gt']);
  });

  it('refuses bad metadata keys', function () {
    expect(fieldsOfError({ 'metadata.a b': 'x' })).to.deep.equal(['metadata.a b']);
  });

  it('parses near + radius, sorting by distance unless told otherwise', function () {
    const spec = parseListQuery(building, { near: '13.4,52.5', radius: '1000' });
    expect(spec.near).to.deep.equal({ lng: 13.4, lat: 52.5, radius: 1000 });
    expect(spec.sort[0]).to.include({ field: 'distance', desc: false });
    expect(
      parseListQuery(building, { near: '13.4,52.5', radius: '10', sort: 'name' }).sort[0]?.field,
    ).to.equal('name');
  });

  it('refuses incomplete or out-of-range spatial filters, naming them', function () {
    expect(fieldsOfError({ near: '13.4,52.5' })).to.deep.equal(['radius']);
    expect(fieldsOfError({ radius: '5' })).to.deep.equal(['near']);
    expect(fieldsOfError({ near: '200,52', radius: '5' })).to.deep.equal(['near']);
    expect(fieldsOfError({ near: '13,52', radius: '-1' })).to.deep.equal(['radius']);
    expect(fieldsOfError({ bbox: '1,2,3' })).to.deep.equal(['bbox']);
    expect(fieldsOfError({ bbox: '3,2,1,4' })).to.deep.equal(['bbox']);
    expect(fieldsOfError({ containsPoint: '1,2' })).to.deep.equal(['containsPoint']);
    expect(parseListQuery(room, { containsPoint: '13.4,52.5' }).containsPoint).to.deep.equal({
      lng: 13.4,
      lat: 52.5,
    });
    expect(fieldsOfError({ sort: 'distance' })).to.deep.equal(['sort']);
  });

  it('refuses a cursor that was not made for this sort', function () {
    const byName = parseListQuery(building, { sort: 'name' }).sort;
    const byDate = parseListQuery(building, {}).sort;
    const cursor = encodeCursor(byName, ['x', '00000000-0000-4000-8000-000000000000']);
    expect(decodeCursor(cursor, byName)).to.deep.equal(['x', '00000000-0000-4000-8000-000000000000']);
    expect(() => decodeCursor(cursor, byDate)).to.throw(/another sort order/);
    expect(() => decodeCursor('garbage!', byDate)).to.throw(/not a cursor/);
  });
});
