import { expect } from 'chai';
import { unique } from '../helpers/db';
import { http, login, useToken } from '../helpers/platform';
import { freePort, promtoolProblems, startProcess, type PlatformProcess } from '../helpers/processes';
import { until } from '../helpers/wait';
import { SERVICE_NAMES } from '../../shared/config';
import {
  CATALOGUE,
  dashboardExprs,
  metricNamesIn,
  namesInScrape,
  PROMETHEUS_BUILTINS,
  recordedNames,
  ruleExprs,
} from '../helpers/metrics-catalogue';

const PROCESSES = [...SERVICE_NAMES];

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};

/** Sample lines of `name` (its own, or its histogram's `_bucket`/`_sum`/`_count`). */
const samples = (exposition: string, name: string) =>
  exposition.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('operations of a running platform: one process per service, as in production', function () {
  this.timeout(180_000);
  const procs = new Map<string, PlatformProcess>();
  let base: string;
  let api: string;

  before(async function () {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = `${base}/api/v1`;
    const started = await Promise.all(
      PROCESSES.map((name) => startProcess([name], name === 'gateway' ? { PORT: String(port) } : {})),
    );
    PROCESSES.forEach((name, i) => {
      const p = started[i];
      if (p) procs.set(name, p);
    });
    // every node sees every other: the platform's health passes
    await until(
      'the platform health to pass',
      async () => (await get(`${base}/health`)).status === 200,
      60_000,
    );
    useToken(await login(api));
    // traffic for the metrics: writes, reads (cache miss then hit), a 404, an unmatched path
    const building = await http('POST', `${api}/buildings`, { name: 'Ops', code: unique('OPS') });
    expect(building.status, JSON.stringify(building.body)).to.equal(201);
    const device = await http('POST', `${api}/devices`, {
      name: 'silent sensor',
      type: 'sensor',
      serialNumber: unique('SN'),
    });
    expect(device.status, JSON.stringify(device.body)).to.equal(201);
    // refused by Moleculer's parameter validator, before the action's handler
    const bad = await http('POST', `${api}/devices/${String(device.body.id)}/status`, { status: 'bogus' });
    expect(bad.status).to.equal(400);
    for (let i = 0; i < 3; i += 1) await http('GET', `${api}/buildings/${String(building.body.id)}`);
    expect((await http('GET', `${api}/buildings/00000000-0000-4000-8000-000000000000`)).status).to.equal(404);
    expect((await get(`${base}/no/such/path`)).status).to.equal(404);
  });

  after(async function () {
    useToken(undefined);
    for (const p of procs.values()) p.child.kill('SIGTERM');
    await Promise.all([...procs.values()].map((p) => p.exited));
  });

  it('serves liveness, readiness and its own metrics on each process’s ops port', async function () {
    for (const [name, p] of procs) {
      const ops = `http://127.0.0.1:${p.opsPort}`;
      const live = await get(`${ops}/health/live`);
      expect(live.status, name).to.equal(200);
      expect(live.type).to.equal('application/health+json');
      expect(JSON.parse(live.text)).to.include({ status: 'pass' });

      const ready = await get(`${ops}/health/ready`);
      expect(ready.status, `${name}: ${ready.text}`).to.equal(200);
      expect(ready.type).to.equal('application/health+json');
      const report = JSON.parse(ready.text) as {
        status: string;
        checks: Record<string, { status: string }[]>;
      };
      expect(report.status).to.be.oneOf(['pass', 'warn']);
      expect(report.checks, name).to.include.keys('rabbitmq:connection', 'eventloop:lag', 'redis:cache');
      if (['users', 'buildings', 'devices'].includes(name))
        expect(report.checks, name).to.include.keys(
          'postgres:responseTime',
          'rabbitmq:channel',
          'outbox:backlogAge',
        );
      for (const [key, list] of Object.entries(report.checks)) {
        expect(key).to.match(/^[\w.-]+:[\w.-]+$/);
        for (const c of list) expect(c.status).to.be.oneOf(['pass', 'warn', 'fail']);
      }

      const metrics = await get(`${ops}/metrics`);
      expect(metrics.status).to.equal(200);
      expect(metrics.type).to.match(/^text\/plain; version=0\.0\.4/);
      expect(samples(metrics.text, 'arxos_ready')[0], name).to.match(/ 1$/);
    }
  });

  it('labels every series of a process with its node and app', async function () {
    for (const [name, p] of procs) {
      const { text } = await get(`http://127.0.0.1:${p.opsPort}/metrics`);
      const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(lines.length).to.be.above(50);
      const unlabelled = lines.filter(
        (l) => !l.includes(`node="${p.nodeID}"`) || !l.includes(`app="${name}"`),
      );
      expect(unlabelled, name).to.deep.equal([]);
    }
  });

  it('passes `promtool check metrics` on each process’s exposition and on the platform’s', async function () {
    const expositions: [string, string][] = [];
    for (const [name, p] of procs)
      expositions.push([name, (await get(`http://127.0.0.1:${p.opsPort}/metrics`)).text]);
    expositions.push(['GET /metrics', (await get(`${base}/metrics`)).text]);
    for (const [name, text] of expositions) expect(await promtoolProblems(text), name).to.equal('');
  });

  it('serves every catalogue metric on GET /metrics through the gateway, each family once', async function () {
    const res = await get(`${base}/metrics`);
    expect(res.status).to.equal(200);
    expect(res.type).to.match(/^text\/plain; version=0\.0\.4/);
    const types = res.text.split('\n').filter((l) => l.startsWith('# TYPE '));
    const names = types.map((l) => l.split(' ')[2]);
    expect(names.length, 'a family twice').to.equal(new Set(names).size);
    for (const [name, type] of Object.entries(CATALOGUE)) {
      expect(types, name).to.include(`# TYPE ${name} ${type}`);
      const own = type === 'histogram' ? `${name}_bucket` : name;
      expect(samples(res.text, own), `${name} has no sample`).to.not.be.empty;
    }
    // every process is in the one exposition, each series under its own node and app
    for (const [name, p] of procs)
      expect(samples(res.text, 'arxos_ready'), name).to.satisfy((ls: string[]) =>
        ls.some((l) => l.includes(`node="${p.nodeID}"`) && l.includes(`app="${name}"`)),
      );
  });

  it('labels HTTP requests by route template (never a raw path or id) and counts errors by type', async function () {
    const { text } = await get(`${base}/metrics`);
    const http = samples(text, 'arxos_http_request_duration_seconds_count');
    expect(
      http.some((l) => l.includes('route="/api/v1/buildings/:id"') && l.includes('status="404"')),
    ).to.equal(true);
    expect(http.some((l) => l.includes('route="unmatched"') && l.includes('status="404"'))).to.equal(true);
    expect(http.filter((l) => /route="[^"]*[0-9a-f]{8}-/.test(l))).to.deep.equal([]);
    const errors = samples(text, 'arxos_action_errors_total');
    expect(
      errors.some((l) => /service="buildings",action="get",type="NOT_FOUND"/.test(l)),
      errors.join('\n'),
    ).to.equal(true);
    expect(
      errors.some((l) => /service="devices",action="setStatus",type="VALIDATION_FAILED"/.test(l)),
      errors.join('\n'),
    ).to.equal(true);
    expect(samples(text, 'arxos_devices_not_seen').some((l) => / [1-9]\d*$/.test(l))).to.equal(true);
    expect(samples(text, 'arxos_service_health').filter((l) => !/ 1$/.test(l))).to.deep.equal([]);
  });

  // the deployment's alert rules and Grafana dashboards against what the platform really exports
  it('exports every metric that a dashboard or an alert rule reads', async function () {
    const res = await get(`${base}/metrics`);
    expect(res.status, 'GET /metrics on the gateway').to.equal(200);
    const exported = namesInScrape(res.text);
    const recorded = recordedNames();
    const missing = [...ruleExprs(), ...dashboardExprs()].flatMap(({ where, expr }) =>
      metricNamesIn(expr)
        .filter((n) => !recorded.includes(n) && !PROMETHEUS_BUILTINS.includes(n) && !exported.has(n))
        .map((n) => `${where}: ${n}`),
    );
    expect(missing).to.deep.equal([]);
  });

  it('shows a service whose only instance stops answering as fail within 15 s', async function () {
    const events = procs.get('events');
    if (!events) throw new Error('no events process');
    events.child.kill('SIGKILL'); // no goodbye: the others must notice by themselves
    await events.exited;
    procs.delete('events');
    const t0 = Date.now();
    let body: { status?: string; checks?: Record<string, { status: string }[]> } = {};
    await until(
      'GET /health to fail on events',
      async () => {
        const res = await get(`${base}/health`);
        body = JSON.parse(res.text) as typeof body;
        return res.status === 503 && body.checks?.['events:health']?.[0]?.status === 'fail';
      },
      15_000,
    );
    expect(Date.now() - t0).to.be.below(15_000);
    expect(body.status).to.equal('fail');
    expect(body.checks?.['buildings:health']?.[0]?.status).to.equal('pass');
  });
});
