import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { config } from '../../shared/config';
import { createDatabase, migrateDown, migrateUp, migrationStatus, type Database } from '../../shared/db';
import { dropDatabase, ensureDatabase } from '../../scripts/environment';
import { testLogger } from '../helpers/db';

describe('migrations', function () {
  this.timeout(120_000);
  // a database of its own: these tests take the schema down
  const url = (() => {
    const u = new URL(config().db.url);
    u.pathname = `${u.pathname}_mig`;
    return u.toString();
  })();
  let db: Database;

  before(async function () {
    await ensureDatabase(url);
    db = createDatabase({ ...config().db, url }, testLogger(), 'arxos-test-migrations');
  });
  after(async function () {
    await db.stop();
    await dropDatabase(url);
  });

  const tables = async () =>
    (
      await db.sequelize.query<{ t: string }>(
        `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
         AND table_name NOT IN ('spatial_ref_sys', 'schema_migrations') ORDER BY 1`,
        { type: QueryTypes.SELECT },
      )
    ).map((r) => r.t);

  it('goes up, down and up again, recording each step', async function () {
    const logger = testLogger();
    const first = await migrateUp(db.sequelize, url, logger);
    expect(first.applied).to.include('0001-initial-schema');
    const all = await tables();
    expect(all).to.include.members([
      'buildings',
      'floors',
      'rooms',
      'devices',
      'users',
      'projects',
      'project_members',
      'change_records',
      'domain_events',
      'outbox',
      'inbox',
    ]);

    await migrateDown(db.sequelize, url, logger, 'all');
    expect(await tables()).to.deep.equal([]);
    expect((await migrationStatus(db.sequelize, logger)).executed).to.deep.equal([]);

    const again = await migrateUp(db.sequelize, url, logger);
    expect(again.applied).to.deep.equal(first.applied);
    expect(await tables()).to.deep.equal(all);
    expect((await migrateUp(db.sequelize, url, logger)).applied).to.deep.equal([]);
  });

  it('lets several processes start at once: each migration runs exactly once', async function () {
    const logger = testLogger();
    await migrateDown(db.sequelize, url, logger, 'all');
    const pods = [1, 2, 3].map(() => createDatabase({ ...config().db, url }, logger, 'arxos-test-pod'));
    try {
      const results = await Promise.all(pods.map((p) => migrateUp(p.sequelize, url, logger)));
      const applied = results.flatMap((r) => r.applied);
      expect(applied.filter((n) => n === '0001-initial-schema')).to.have.length(1);
    } finally {
      await Promise.all(pods.map((p) => p.stop()));
    }
  });

  it('creates partial unique indexes, GiST indexes and the generated room area', async function () {
    const indexes = await db.sequelize.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`,
      { type: QueryTypes.SELECT },
    );
    const def = (name: string) => indexes.find((i) => i.indexname === name)?.indexdef ?? '';
    for (const name of [
      'buildings_code_live_uq',
      'floors_level_live_uq',
      'rooms_number_live_uq',
      'devices_serial_live_uq',
      'users_email_live_uq',
      'projects_code_live_uq',
      'project_members_live_uq',
    ]) {
      expect(def(name), name).to.match(/UNIQUE INDEX .* WHERE \(deleted_at IS NULL\)/);
    }
    for (const name of [
      'buildings_location_gix',
      'rooms_geometry_gix',
      'devices_location_gix',
      'floors_outline_gix',
    ]) {
      expect(def(name), name).to.include('USING gist');
    }
    const [col] = await db.sequelize.query<{ is_generated: string }>(
      `SELECT is_generated FROM information_schema.columns WHERE table_name = 'rooms' AND column_name = 'area'`,
      { type: QueryTypes.SELECT },
    );
    expect(col?.is_generated).to.equal('ALWAYS');
  });
});
