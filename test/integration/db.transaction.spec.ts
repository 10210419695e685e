import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { Transaction, withTransaction, sqlState } from '../../shared/db';
import { testDb, unique, type TestDb } from '../helpers/db';

describe('transactions', function () {
  let db: TestDb;
  before(async function () {
    this.timeout(60_000);
    db = await testDb();
  });

  /** Two SERIALIZABLE transactions that each read what the other writes: one must fail with 40001. */
  async function writeSkew(retries: number, onRetry: (n: number, err: unknown) => void) {
    const sequelize = db.database.sequelize;
    const tag = unique('skew');
    await withTransaction(sequelize, (t) =>
      db.models.Building.bulkCreate(
        [
          { name: 'a', code: `${tag}-a`, grossArea: 10 },
          { name: 'b', code: `${tag}-b`, grossArea: 10 },
        ],
        { transaction: t },
      ),
    );
    let arrived = 0;
    let release: () => void = () => undefined;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    let firstAttempts = 0;
    const work = (mine: string) =>
      withTransaction(
        sequelize,
        async (t) => {
          firstAttempts += 1;
          const [row] = await sequelize.query<{ total: number }>(
            'SELECT sum(gross_area)::float AS total FROM buildings WHERE code LIKE :p',
            { replacements: { p: `${tag}-%` }, type: QueryTypes.SELECT, transaction: t },
          );
          // both transactions have read before either writes, the first time round
          if (firstAttempts <= 2) {
            arrived += 1;
            if (arrived === 2) release();
            await barrier;
          }
          await sequelize.query('UPDATE buildings SET gross_area = :v WHERE code = :c', {
            replacements: { v: Number(row?.total ?? 0) + 1, c: `${tag}-${mine}` },
            transaction: t,
          });
        },
        { isolationLevel: Transaction.ISOLATION_LEVELS.SERIALIZABLE, retries, onRetry },
      );
    return Promise.allSettled([work('a'), work('b')]);
  }

  it('retries the whole transaction after a serialization failure until it succeeds', async function () {
    const retried: string[] = [];
    const results = await writeSkew(3, (_n, err) => retried.push(sqlState(err) ?? '?'));
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'fulfilled']);
    expect(retried).to.deep.equal(['40001']);
  });

  it('gives the serialization failure to the caller when retries are used up', async function () {
    const results = await writeSkew(0, () => undefined);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).to.have.length(1);
    expect(sqlState((failed[0] as PromiseRejectedResult).reason)).to.equal('40001');
  });
});
