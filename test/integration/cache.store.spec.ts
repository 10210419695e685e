import { expect } from 'chai';
import { Cache } from '../../shared/cache';
import { config } from '../../shared/config';
import { unique } from '../helpers/db';
import { testLogger } from '../helpers/db';

describe('the Redis cache store', function () {
  let cache: Cache;
  before(async function () {
    cache = new Cache({ ...config(), cache: { ...config().cache, strategy: 'redis' } }, testLogger());
    await cache.start();
  });
  after(() => cache.stop());

  it('stores JSON with a TTL, reads many at once and counts hits and misses', async function () {
    const [a, b] = [unique('things.get:a'), unique('things.get:b')];
    const before = cache.stats();
    expect(await cache.get(a)).to.equal(undefined);
    await cache.setMany([
      [a, { n: 1 }],
      [b, [1, 2]],
    ]);
    expect(await cache.getMany([a, b, unique('none')])).to.deep.equal([{ n: 1 }, [1, 2], undefined]);
    const after = cache.stats();
    expect(after.hits - before.hits).to.equal(2);
    expect(after.misses - before.misses).to.equal(2);
    await cache.set(a, 'short', 1);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await cache.get(a)).to.equal(undefined);
  });

  it('does not store a fill that lost the race with an invalidation of its key', async function () {
    const key = unique('things.get:race');
    expect(await cache.get(key)).to.equal(undefined); // a reader misses and goes to the database
    await cache.del([key]); // meanwhile a writer commits and invalidates
    await cache.set(key, { name: 'old' }); // the reader's fill arrives late
    expect(await cache.get(key)).to.equal(undefined);
    // with no invalidation in between, the fill is kept
    await cache.set(key, { name: 'new' });
    expect(await cache.get(key)).to.deep.equal({ name: 'new' });
  });

  it('does not store a list fill that lost the race with a pattern clear of its family', async function () {
    const family = unique('things.list');
    const key = `${family}:page1`;
    expect(await cache.get(key)).to.equal(undefined);
    await cache.clear(`${family}:*`);
    await cache.set(key, ['old']);
    expect(await cache.get(key)).to.equal(undefined);
  });

  it('clears by pattern with SCAN + UNLINK, leaving other keys', async function () {
    const family = unique('things.list');
    await cache.setMany([
      [`${family}:1`, 1],
      [`${family}:2`, 2],
      [`${family}x:3`, 3],
    ]);
    await cache.clear(`${family}:*`);
    expect(await cache.getMany([`${family}:1`, `${family}:2`, `${family}x:3`])).to.deep.equal([
      undefined,
      undefined,
      3,
    ]);
  });
});
