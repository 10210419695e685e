import { expect } from 'chai';
import { gatewayUrl, http, startNode, waitForAction, type Node } from '../helpers/platform';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
};

describe('the API description', function () {
  this.timeout(60_000);
  let nodes: Node[];
  let root: string;

  before(async function () {
    nodes = await Promise.all([
      startNode(['gateway', 'users']),
      startNode(['buildings', 'devices', 'projects', 'events']),
    ]);
    const gateway = nodes[0] as Node;
    for (const a of [
      'users.describe',
      'buildings.describe',
      'buildings.floors.describe',
      'devices.describe',
      'projects.describe',
      'projects.members.describe',
    ]) {
      await waitForAction(gateway.broker, a);
    }
    root = gatewayUrl(gateway).replace(/\/api\/v1$/, '');
  });
  after(() => Promise.all(nodes.map((n) => n.broker.stop())));

  it('serves OpenAPI 3.1 without a token, with every route the gateway serves', async function () {
    const res = await http<Doc>('GET', `${root}/api/openapi.json`, undefined, { authorization: '' });
    expect(res.status).to.equal(200);
    expect(res.body.openapi).to.equal('3.1.0');
    const gateway = nodes[0]?.broker.getLocalService('gateway');
    const served = (Reflect.get(gateway ?? {}, 'aliases') as { method: string; fullPath: string }[])
      .filter((a) => a.fullPath.startsWith('/api/v1/'))
      .map((a) => `${a.method.toLowerCase()} ${a.fullPath.replace(/:(\w+)/g, '{$1}')}`);
    const documented = Object.entries(res.body.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(served.filter((r) => !documented.includes(r))).to.deep.equal([]);
  });

  it('describes each resource from its service: create schemas require what the service requires and omit what a client may not set', async function () {
    const { body } = await http<Doc>('GET', `${root}/api/openapi.json`, undefined, { authorization: '' });
    const create = body.components.schemas.BuildingCreate;
    expect(create?.required).to.have.members(['name', 'code']);
    expect(create?.properties).to.not.have.any.keys('id', 'version', 'createdBy', 'area');
    expect(body.components.schemas.RoomCreate?.properties).to.not.have.property('area');
    expect(body.components.schemas.Room?.properties).to.have.property('area');
    expect(body.components.schemas.User?.properties).to.not.have.any.keys('passwordHash', 'password');
    expect(body.components.schemas.UserCreate?.properties).to.have.property('password');
    expect(body.paths['/api/v1/buildings/{id}']?.patch?.responses).to.have.keys(
      '200',
      '400',
      '401',
      '403',
      '404',
      '409',
      '412',
      '429',
      '503',
    );
  });

  it('serves a docs page', async function () {
    const res = await fetch(`${root}/api/docs`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(await res.text()).to.include('/api/openapi.json');
  });
});
