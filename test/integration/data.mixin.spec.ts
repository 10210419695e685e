import { expect } from 'chai';
import { ServiceBroker } from 'moleculer';
import { contextMiddleware } from '../../shared/context';
import { dataService } from '../../shared/data';
import { buildingResources } from '../../services/buildings/buildings.resources';
import { testDb, unique } from '../helpers/db';

describe('the data mixin in a Moleculer service', function () {
  let broker: ServiceBroker;

  before(async function () {
    this.timeout(60_000);
    await testDb(); // migrated database
    broker = new ServiceBroker({ logger: false, middlewares: [contextMiddleware] });
    broker.createService({
      name: 'things',
      mixins: [
        dataService({
          resources: buildingResources,
          expose: [
            { resource: 'building', prefix: '' },
            { resource: 'floor', prefix: 'floors.' },
          ],
        }),
      ],
    });
    await broker.start();
  });
  after(() => broker.stop());

  it('gives every exposed resource the CRUD actions', function () {
    const names = broker.registry.getActionList({}).map((a) => a.name);
    for (const action of ['create', 'get', 'list', 'update', 'remove', 'restore', 'history']) {
      expect(names).to.include(`things.${action}`);
      expect(names).to.include(`things.floors.${action}`);
    }
  });

  it('takes actor and request id from ctx.meta into audit fields and change records', async function () {
    const meta = { user: { id: 'u-123' }, requestId: 'r-abc' };
    const b = await broker.call<Record<string, unknown>, unknown>(
      'things.create',
      { data: { name: 'M', code: unique('M') } },
      { meta },
    );
    expect(b).to.include({ createdBy: 'u-123', updatedBy: 'u-123' });
    const history = await broker.call<{ data: { actor: string; requestId: string }[] }, unknown>(
      'things.history',
      { id: b.id },
    );
    expect(history.data[0]).to.include({ actor: 'u-123', requestId: 'r-abc' });
  });

  it('scopes a nested list by its parent and refuses a scope on a field that does not filter', async function () {
    const b = await broker.call<Record<string, unknown>, unknown>('things.create', {
      data: { name: 'S', code: unique('S') },
    });
    await broker.call('things.floors.create', { data: { buildingId: b.id, name: 'G', level: 0 } });
    const page = await broker.call<{ data: unknown[] }, unknown>('things.floors.list', {
      scope: { buildingId: b.id },
    });
    expect(page.data).to.have.length(1);
    try {
      await broker.call('things.floors.list', { scope: { outline: 'x' } });
      expect.fail('should refuse');
    } catch (err) {
      expect(err).to.include({ type: 'VALIDATION_FAILED', code: 400 });
    }
  });
});
