import { expect } from 'chai';
import { Op, QueryTypes } from 'sequelize';
import { runInContext } from '../../shared/context';
import { withTransaction } from '../../shared/db';
import { createDataAccess } from '../../shared/data';
import { testDb, unique, type TestDb } from '../helpers/db';

const as = <T>(actor: string, fn: () => Promise<T>) => runInContext({ actor, requestId: `req-${actor}` }, fn);

async function expectError(p: Promise<unknown>, type: string, status: number) {
  try {
    await p;
  } catch (err) {
    expect(err).to.include({ type, code: status });
    return err as { data?: { errors?: { field: string; message: string }[] } };
  }
  throw new Error(`expected ${type}, but it succeeded`);
}

describe('shared/data on the real PostgreSQL', function () {
  let db: TestDb;
  before(async function () {
    this.timeout(60_000);
    db = await testDb();
  });

  const newBuilding = (extra: Record<string, unknown> = {}) =>
    db.data.create('building', { name: 'HQ', code: unique('B'), ...extra });

  describe('per entity: create, get, list, update, delete, restore', function () {
    const cases: {
      resource: string;
      body: () => Promise<Record<string, unknown>>;
      change: Record<string, unknown>;
    }[] = [
      {
        resource: 'building',
        body: () => Promise.resolve({ name: 'Tower', code: unique('B') }),
        change: { name: 'Tower 2' },
      },
      {
        resource: 'floor',
        body: async () => ({ buildingId: (await newBuilding()).id, name: 'Ground', level: 0 }),
        change: { name: 'Lobby' },
      },
      {
        resource: 'room',
        body: async () => {
          const b = await newBuilding();
          const f = await db.data.create('floor', { buildingId: b.id, name: 'F1', level: 1 });
          return { floorId: f.id, name: 'Office', number: '1.01' };
        },
        change: { capacity: 12 },
      },
      {
        resource: 'device',
        body: () => Promise.resolve({ name: 'Thermo', type: 'sensor', serialNumber: unique('SN') }),
        change: { firmwareVersion: '2.0.1' },
      },
      {
        resource: 'user',
        body: () => Promise.resolve({ email: `${unique('u')}@example.com`, name: 'Ada', role: 'viewer' }),
        change: { name: 'Ada L.' },
      },
      {
        resource: 'project',
        body: () =>
          Promise.resolve({
            name: 'Retrofit',
            code: unique('P'),
            startDate: '2026-01-01',
            endDate: '2026-06-30',
          }),
        change: { status: 'active' },
      },
    ];

    for (const c of cases) {
      it(`${c.resource}: runs the whole life cycle and hides a deleted row from get and list`, async function () {
        const created = await as('alice', async () => db.data.create(c.resource, await c.body()));
        expect(created).to.include({ version: 0, createdBy: 'alice', updatedBy: 'alice' });
        expect(created.id).to.be.a('string');

        const got = await db.data.get(c.resource, created.id);
        expect(got).to.deep.equal(created);

        const updated = await as('bob', () =>
          db.data.update(c.resource, created.id, c.change, { expectedVersion: 0 }),
        );
        expect(updated).to.include({ ...c.change, version: 1, createdBy: 'alice', updatedBy: 'bob' });

        const listed = await db.data.list(c.resource, { id: String(created.id) });
        expect(listed.data.map((r) => r.id)).to.deep.equal([created.id]);

        await as('carol', () => db.data.remove(c.resource, created.id));
        await expectError(db.data.get(c.resource, created.id), 'NOT_FOUND', 404);
        expect((await db.data.list(c.resource, { id: String(created.id) })).data).to.have.length(0);
        const withDeleted = await db.data.list(c.resource, { id: String(created.id), deleted: 'include' });
        expect(withDeleted.data[0]).to.include({ deletedBy: 'carol', version: 2 });
        expect(
          (await db.data.list(c.resource, { id: String(created.id), deleted: 'only' })).data,
        ).to.have.length(1);

        const restored = await db.data.restore(c.resource, created.id);
        expect(restored).to.include({ version: 3 });
        expect(restored).to.not.have.property('deletedAt');
        expect((await db.data.get(c.resource, created.id)).id).to.equal(created.id);
      });
    }
  });

  describe('validation', function () {
    it('refuses system fields in a body with 400 naming each field', async function () {
      const err = await expectError(
        db.data.create('building', { name: 'X', code: unique('B'), createdBy: 'me', version: 7, id: 'x' }),
        'VALIDATION_FAILED',
        400,
      );
      expect(err.data?.errors?.map((e) => e.field)).to.have.members(['createdBy', 'version', 'id']);
    });

    it('refuses unknown fields, wrong types and missing required fields, naming them all', async function () {
      const err = await expectError(
        db.data.create('building', { name: 3, colour: 'red', status: 'demolished' }),
        'VALIDATION_FAILED',
        400,
      );
      expect(err.data?.errors?.map((e) => e.field)).to.have.members(['name', 'colour', 'status', 'code']);
    });

    it('refuses computed fields (a room area) and immutable ones on update', async function () {
      const b = await newBuilding();
      const f = await db.data.create('floor', { buildingId: b.id, name: 'F', level: 3 });
      const err = await expectError(
        db.data.update('floor', f.id, { buildingId: b.id, name: 'G' }),
        'VALIDATION_FAILED',
        400,
      );
      expect(err.data?.errors?.[0]?.field).to.equal('buildingId');
      const e2 = await expectError(
        db.data.create('room', { floorId: f.id, name: 'R', number: '1', area: 5 }),
        'VALIDATION_FAILED',
        400,
      );
      expect(e2.data?.errors?.[0]?.field).to.equal('area');
    });

    it('refuses a floor of a building that does not exist, naming buildingId', async function () {
      const err = await expectError(
        db.data.create('floor', { buildingId: '00000000-0000-4000-8000-000000000000', name: 'F', level: 1 }),
        'VALIDATION_FAILED',
        400,
      );
      expect(err.data?.errors?.[0]?.field).to.equal('buildingId');
    });

    it('refuses metadata over 64 KiB and metadata that is not an object', async function () {
      const big = { blob: 'x'.repeat(70 * 1024) };
      const err = await expectError(newBuilding({ metadata: big }), 'VALIDATION_FAILED', 400);
      expect(err.data?.errors?.[0]?.field).to.equal('metadata');
      await expectError(newBuilding({ metadata: [1, 2] }), 'VALIDATION_FAILED', 400);
    });

    it('answers a malformed id with 400 naming id', async function () {
      const err = await expectError(db.data.get('building', 'nope'), 'VALIDATION_FAILED', 400);
      expect(err.data?.errors?.[0]?.field).to.equal('id');
    });
  });

  describe('unique among live rows', function () {
    it('lets a deleted code be reused and refuses the restore that would clash', async function () {
      const code = unique('B');
      const first = await newBuilding({ code });
      await expectError(newBuilding({ code }), 'CONFLICT', 409);
      await db.data.remove('building', first.id);
      const second = await newBuilding({ code });
      expect(second.code).to.equal(code);
      const err = await expectError(db.data.restore('building', first.id), 'CONFLICT', 409);
      expect(err.data?.errors?.[0]?.field).to.equal('code');
    });

    it('compares user emails case-insensitively', async function () {
      const email = `${unique('x')}@example.com`;
      await db.data.create('user', { email, name: 'A', role: 'viewer' });
      await expectError(
        db.data.create('user', { email: email.toUpperCase(), name: 'B', role: 'viewer' }),
        'CONFLICT',
        409,
      );
    });

    it('of 100 concurrent creates of one code, exactly 1 succeeds and 99 get CONFLICT', async function () {
      const code = unique('RACE');
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, () => db.data.create('building', { name: 'Race', code })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      const conflicts = results.filter(
        (r) => r.status === 'rejected' && (r.reason as { type?: string }).type === 'CONFLICT',
      );
      expect(ok).to.have.length(1);
      expect(conflicts).to.have.length(99);
      expect(await db.models.Building.count({ where: { code } })).to.equal(1);
    });
  });

  describe('optimistic locking', function () {
    it('refuses a stale expected version with PRECONDITION_FAILED and changes nothing', async function () {
      const b = await newBuilding();
      await db.data.update('building', b.id, { name: 'v1' }, { expectedVersion: 0 });
      await expectError(
        db.data.update('building', b.id, { name: 'stale' }, { expectedVersion: 0 }),
        'PRECONDITION_FAILED',
        412,
      );
      await expectError(db.data.remove('building', b.id, { expectedVersion: 0 }), 'PRECONDITION_FAILED', 412);
      expect(await db.data.get('building', b.id)).to.include({ name: 'v1', version: 1 });
    });
  });

  describe('cascade delete and restore', function () {
    async function tree() {
      const b = await newBuilding();
      const floors = await Promise.all(
        [0, 1].map((level) => db.data.create('floor', { buildingId: b.id, name: `F${level}`, level })),
      );
      const rooms = [];
      for (const f of floors) {
        for (const n of ['a', 'b'])
          rooms.push(await db.data.create('room', { floorId: f.id, name: n, number: n }));
      }
      return { b, floors, rooms };
    }

    it('refuses to delete a building with live floors unless cascade=true', async function () {
      const { b } = await tree();
      const err = await expectError(db.data.remove('building', b.id), 'CONFLICT', 409);
      expect(err.data?.errors?.[0]?.field).to.equal('cascade');
    });

    it('deletes the subtree under one batch and restores exactly that batch', async function () {
      const { b, floors, rooms } = await tree();
      // deleted on its own before the cascade: must stay deleted after the building's restore
      const alone = rooms[0];
      if (!alone) throw new Error('no room');
      await db.data.remove('room', alone.id);

      const result = await db.data.remove('building', b.id, { cascade: true });
      expect(result.deleted).to.deep.equal({ building: 1, floor: 2, room: 3 });
      const batch = await db.models.Room.findAll({
        where: { deletionBatchId: result.batchId },
        paranoid: false,
      });
      expect(batch).to.have.length(3);
      for (const f of floors) await expectError(db.data.get('floor', f.id), 'NOT_FOUND', 404);

      await db.data.restore('building', b.id);
      for (const f of floors) expect((await db.data.get('floor', f.id)).id).to.equal(f.id);
      const live = await db.data.list('room', { buildingId: String(b.id), limit: '10' });
      expect(live.data.map((r) => r.id)).to.have.members(rooms.slice(1).map((r) => r.id));
      await expectError(db.data.get('room', alone.id), 'NOT_FOUND', 404);
    });

    it('refuses to restore a floor whose building is deleted', async function () {
      const { b, floors } = await tree();
      await db.data.remove('building', b.id, { cascade: true });
      const err = await expectError(db.data.restore('floor', floors[0]?.id), 'CONFLICT', 409);
      expect(err.data?.errors?.[0]?.field).to.equal('buildingId');
    });
  });

  describe('audit fields and change records', function () {
    const recordsOf = (entityId: unknown) =>
      db.database.sequelize.query<{
        action: string;
        actor: string;
        request_id: string;
        changes: Record<string, unknown[]>;
      }>(
        'SELECT action, actor, request_id, changes FROM change_records WHERE entity_id = :id ORDER BY at, id',
        { replacements: { id: entityId }, type: QueryTypes.SELECT },
      );

    it('writes one record per write with actor, request id and before/after of the changed fields', async function () {
      const b = await as('alice', () => newBuilding({ name: 'Old' }));
      await as('bob', () => db.data.update('building', b.id, { name: 'New', address: 'Main St 1' }));
      await as('carol', () => db.data.remove('building', b.id));
      await as('dave', () => db.data.restore('building', b.id));
      const records = await recordsOf(b.id);
      expect(records.map((r) => [r.action, r.actor, r.request_id])).to.deep.equal([
        ['create', 'alice', 'req-alice'],
        ['update', 'bob', 'req-bob'],
        ['delete', 'carol', 'req-carol'],
        ['restore', 'dave', 'req-dave'],
      ]);
      expect(records[0]?.changes.name).to.deep.equal([null, 'Old']);
      expect(records[1]?.changes).to.deep.equal({ name: ['Old', 'New'], address: [null, 'Main St 1'] });
      expect(Object.keys(records[2]?.changes ?? {})).to.deep.equal(['deletedAt']);

      const history = await db.data.history('building', b.id);
      expect(history.data.map((h) => h.action)).to.deep.equal(['restore', 'delete', 'update', 'create']);
    });

    it('writes one record per row for bulk writes (static update and bulkCreate)', async function () {
      const tag = unique('bulk');
      await withTransaction(db.database.sequelize, (transaction) =>
        as('bulk-writer', () =>
          db.models.Device.bulkCreate(
            [1, 2, 3].map((i) => ({
              name: `d${i}`,
              type: 'meter',
              serialNumber: `${tag}-${i}`,
              metadata: { tag },
            })),
            { transaction },
          ),
        ),
      );
      await withTransaction(db.database.sequelize, (transaction) =>
        as('bulk-writer', () =>
          db.models.Device.update(
            { firmwareVersion: '9' },
            { where: { serialNumber: { [Op.like]: `${tag}-%` } }, transaction },
          ),
        ),
      );
      const devices = await db.models.Device.findAll({ where: { serialNumber: { [Op.like]: `${tag}-%` } } });
      expect(devices).to.have.length(3);
      for (const d of devices) {
        expect(d.getDataValue('createdBy')).to.equal('bulk-writer');
        expect(d.getDataValue('version')).to.equal(1);
        const records = await recordsOf(d.getDataValue('id'));
        expect(records.map((r) => r.action)).to.deep.equal(['create', 'update']);
        expect(records[1]?.changes).to.deep.equal({ firmwareVersion: [null, '9'] });
      }
    });

    it('leaves neither the change nor its record after a rollback', async function () {
      const code = unique('RB');
      let id: unknown;
      try {
        await withTransaction(db.database.sequelize, async (transaction) => {
          const row = await db.models.Building.create({ name: 'Ghost', code }, { transaction });
          id = row.getDataValue('id');
          throw new Error('abort');
        });
      } catch (err) {
        expect((err as Error).message).to.equal('abort');
      }
      expect(id).to.be.a('string');
      expect(await db.models.Building.count({ where: { code }, paranoid: false })).to.equal(0);
      expect(await recordsOf(id)).to.have.length(0);
    });

    it('never records a password hash', async function () {
      const u = await db.data.create('user', {
        email: `${unique('h')}@example.com`,
        name: 'H',
        role: 'viewer',
      });
      await withTransaction(db.database.sequelize, async (transaction) => {
        const row = await db.models.User.findByPk(String(u.id), { transaction });
        row?.set({ passwordHash: '$argon2id$secret' });
        await row?.save({ transaction });
      });
      const records = await recordsOf(u.id);
      expect(JSON.stringify(records)).to.not.include('argon2id');
      expect(await db.data.get('user', u.id)).to.not.have.property('passwordHash');
    });
  });

  describe('object-level visibility (the mechanism projects use for membership)', function () {
    it('limits get, list, update, delete, restore and history to the rows a user may see; system work sees all', async function () {
      const base = db.resources.building;
      if (!base) throw new Error('no building resource');
      const own = createDataAccess({
        sequelize: db.database.sequelize,
        resources: {
          ...db.resources,
          building: { ...base, visibility: (u) => (u.role === 'admin' ? undefined : { createdBy: u.id }) },
        },
      });
      const as2 = <T>(actor: string, role: string, fn: () => Promise<T>) =>
        runInContext({ actor, role, requestId: 'v' }, fn);
      const tag = unique('vis');
      const mine = await as2('alice', 'viewer', () =>
        own.create('building', { name: 'A', code: `${tag}-a`, metadata: { tag } }),
      );
      const theirs = await as2('bob', 'viewer', () =>
        own.create('building', { name: 'B', code: `${tag}-b`, metadata: { tag } }),
      );

      const listed = await as2('alice', 'viewer', () =>
        own.list('building', { 'metadata.tag': tag, count: 'true' }),
      );
      expect(listed.data.map((r) => r.id)).to.deep.equal([mine.id]);
      expect(listed.total).to.equal(1);
      await expectError(
        as2('alice', 'viewer', () => own.get('building', theirs.id)),
        'NOT_FOUND',
        404,
      );
      await expectError(
        as2('alice', 'viewer', () => own.update('building', theirs.id, { name: 'x' })),
        'NOT_FOUND',
        404,
      );
      await expectError(
        as2('alice', 'viewer', () => own.remove('building', theirs.id)),
        'NOT_FOUND',
        404,
      );
      await expectError(
        as2('alice', 'viewer', () => own.history('building', theirs.id)),
        'NOT_FOUND',
        404,
      );
      await as2('bob', 'viewer', () => own.remove('building', theirs.id));
      await expectError(
        as2('alice', 'viewer', () => own.restore('building', theirs.id)),
        'NOT_FOUND',
        404,
      );

      const asAdmin = await as2('root', 'admin', () =>
        own.list('building', { 'metadata.tag': tag, deleted: 'include' }),
      );
      expect(asAdmin.data).to.have.length(2);
      expect((await own.get('building', mine.id)).id).to.equal(mine.id); // no user: system work
    });
  });
});
