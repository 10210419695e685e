import { expect } from 'chai';
import { SERVICE_NAMES } from '../../shared/config';
import type { HealthReport } from '../../shared/monitoring';
import type { InstanceReport } from '../../services/monitoring/monitoring.service';
import { gatewayUrl, startNode, waitForAction, type Node } from '../helpers/platform';
import { until } from '../helpers/wait';

const get = async (url: string) => {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text };
};
const health = async (url: string) => {
  const res = await get(url);
  return { ...res, body: JSON.parse(res.text) as HealthReport };
};

/** Every check of a report has the draft's shape: `component:measurement` keys, a status and a time. */
function expectHealthShape(report: HealthReport) {
  expect(report.status).to.be.oneOf(['pass', 'warn', 'fail']);
  for (const [key, list] of Object.entries(report.checks)) {
    expect(key).to.match(/^[\w.-]+:[\w.-]+$/);
    expect(list).to.be.an('array').that.is.not.empty;
    for (const c of list) {
      expect(c.status, key).to.be.oneOf(['pass', 'warn', 'fail']);
      expect(new Date(c.time).toISOString()).to.equal(c.time);
    }
  }
}

describe('health: each process, and the whole platform through the gateway', function () {
  this.timeout(90_000);
  const nodes = new Map<string, Node>();
  let base: string;

  const start = async (service: (typeof SERVICE_NAMES)[number]) => {
    nodes.set(service, await startNode([service]));
  };
  const stop = async (service: string) => {
    await nodes.get(service)?.broker.stop();
    nodes.delete(service);
  };

  before(async function () {
    // one node per service, as one process per service would be
    await Promise.all(SERVICE_NAMES.map(start));
    const gateway = nodes.get('gateway');
    if (!gateway) throw new Error('no gateway');
    for (const s of SERVICE_NAMES.filter((n) => n !== 'gateway'))
      await waitForAction(gateway.broker, s === 'monitoring' ? 'monitoring.health' : `${s}.list`);
    base = gatewayUrl(gateway).replace(/\/api\/v1$/, '');
    await until('the platform to pass', async () => (await get(`${base}/health`)).status === 200);
  });
  after(async function () {
    await Promise.all([...nodes.keys()].map(stop));
  });

  it('answers GET /health/live with 200 application/health+json, asking nothing it depends on', async function () {
    const res = await health(`${base}/health/live`);
    expect(res.status).to.equal(200);
    expect(res.type).to.equal('application/health+json');
    expect(res.body.status).to.equal('pass');
    expect(Object.keys(res.body.checks)).to.deep.equal(['process:uptime']);
    expectHealthShape(res.body);
  });

  it('answers GET /health/ready with the checks of this process', async function () {
    const res = await health(`${base}/health/ready`);
    expect(res.status, res.text).to.equal(200);
    expect(res.type).to.equal('application/health+json');
    expect(res.body.checks).to.include.keys(
      'rabbitmq:connection',
      'redis:cache',
      'eventloop:lag',
      'postgres:responseTime',
      'rabbitmq:channel',
      'outbox:backlogAge',
    );
    expectHealthShape(res.body);
  });

  it('answers GET /health with every expected service, its instances and their checks', async function () {
    const res = await health(`${base}/health`);
    expect(res.status, res.text).to.equal(200);
    expect(res.type).to.equal('application/health+json');
    expect(res.body.status).to.be.oneOf(['pass', 'warn']);
    expectHealthShape(res.body);
    for (const service of SERVICE_NAMES) {
      const [summary] = res.body.checks[`${service}:health`] ?? [];
      expect(summary, service).to.include({ status: 'pass', observedValue: 1, observedUnit: 'instances' });
      const instances = (res.body.checks[`${service}:instances`] ?? []) as InstanceReport[];
      expect(instances.map((i) => i.componentId)).to.deep.equal([nodes.get(service)?.broker.nodeID]);
      expect(instances[0]?.componentType).to.equal('instance');
      expect(instances[0]?.checks).to.include.keys('rabbitmq:connection');
    }
  });

  it('turns a service with no live instance to fail (503) within 15 s, and back to pass when one returns', async function () {
    await stop('buildings');
    let report: HealthReport | undefined;
    const t0 = Date.now();
    await until(
      'buildings to fail',
      async () => {
        const res = await health(`${base}/health`);
        report = res.body;
        return res.status === 503;
      },
      15_000,
    );
    expect(Date.now() - t0).to.be.below(15_000);
    expect(report?.status).to.equal('fail');
    expect(report?.checks['buildings:health']?.[0]).to.include({
      status: 'fail',
      output: 'no live instance',
    });
    expect(report?.checks['devices:health']?.[0]?.status).to.equal('pass');

    await start('buildings');
    await until('buildings to pass again', async () => (await get(`${base}/health`)).status === 200, 15_000);
    const res = await health(`${base}/health`);
    expect(res.body.checks['buildings:health']?.[0]).to.include({ status: 'pass', observedValue: 1 });
  });

  it('serves the platform exposition on GET /metrics, each metric family once', async function () {
    const res = await get(`${base}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/^text\/plain; version=0\.0\.4/);
    const types = res.text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(types.length).to.equal(new Set(types.map((l) => l.split(' ')[2])).size);
    expect(types).to.include('# TYPE arxos_service_health gauge');
    expect(res.text).to.match(/^arxos_service_instances\{service="buildings"[^}]*\} 1$/m);
  });

  it('answers 503 with a fail report when the monitoring service does not answer', async function () {
    await stop('monitoring');
    await until('monitoring to be gone', async () => (await get(`${base}/health`)).status === 503, 15_000);
    const res = await health(`${base}/health`);
    expect(res.type).to.equal('application/health+json');
    expect(res.body.status).to.equal('fail');
    expect(res.body.checks['monitoring:health']?.[0]?.status).to.equal('fail');
    expect((await get(`${base}/metrics`)).status).to.equal(503);
  });
});
