import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parseConfig, SERVICE_NAMES } from '../../shared/config';
import { arr, at, readYaml, rec, ROOT, str } from '../helpers/deploy';

/*
 * docker-compose.yml, checked without a Docker engine: it parses, what it refers to exists, and
 * every Arxos container is the one image running one service, after the migrations.
 */

const compose = () => readYaml('docker-compose.yml');
const services = () => rec(at(compose(), 'services'));
const arxos = () => Object.entries(services()).filter(([, s]) => at(s, 'image') === 'arxos:local');
const envOf = (s: unknown) => rec(at(s, 'environment'));
const INFRA = ['postgres', 'redis', 'rabbitmq'];

describe('deployment: docker-compose.yml', function () {
  it('parses, with infrastructure that has healthchecks', function () {
    for (const name of INFRA) expect(at(services(), name, 'healthcheck', 'test'), name).to.not.be.empty;
    expect(at(services(), 'postgres', 'image')).to.match(/^postgis\/postgis:/);
    expect(at(services(), 'rabbitmq', 'image')).to.match(/management/);
  });

  it('depends only on services that exist, with conditions those services can meet', function () {
    for (const [name, service] of Object.entries(services())) {
      for (const [target, dep] of Object.entries(rec(at(service, 'depends_on')))) {
        expect(services(), `${name} depends on ${target}`).to.have.property(target);
        const condition = str(at(dep, 'condition'));
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).to.include(
          condition,
        );
        if (condition === 'service_healthy')
          expect(at(services(), target, 'healthcheck'), `${name}: ${target} has no healthcheck`).to.not.equal(
            undefined,
          );
      }
    }
  });

  it('mounts only paths that exist in the repository', function () {
    const mounts = Object.entries(services()).flatMap(([name, s]) =>
      arr(at(s, 'volumes'))
        .map(String)
        .filter((v) => v.startsWith('./'))
        .map((v) => ({ name, source: v.split(':')[0] ?? '' })),
    );
    expect(mounts.length).to.be.greaterThan(2);
    for (const m of mounts)
      expect(fs.existsSync(path.join(ROOT, m.source)), `${m.name}: ${m.source}`).to.equal(true);
  });

  it('runs every Arxos service in its own container from the one image, after the migrations', function () {
    const containers = arxos().filter(([name]) => name !== 'migrate');
    const running = containers.map(([name, s]) => {
      expect(at(s, 'build'), name).to.equal('.');
      expect(at(s, 'depends_on', 'migrate', 'condition'), name).to.equal('service_completed_successfully');
      for (const infra of INFRA)
        expect(at(s, 'depends_on', infra, 'condition'), `${name} ${infra}`).to.equal('service_healthy');
      const value = String(envOf(s).SERVICES);
      expect(parseConfig({ SERVICES: value }).services, `${name}: SERVICES=${value}`).to.have.length(1);
      return value;
    });
    expect([...running].sort()).to.deep.equal([...SERVICE_NAMES].sort());
    const migrate = at(services(), 'migrate');
    expect(at(migrate, 'build')).to.equal('.');
    expect(at(migrate, 'command')).to.deep.equal(['node', 'dist/scripts/migrate.js', 'up']);
    expect(at(migrate, 'depends_on', 'postgres', 'condition')).to.equal('service_healthy');
  });

  it('publishes the gateway on its configured port and leaves the ops ports internal', function () {
    const [name, gateway] = arxos().find(([, s]) => envOf(s).SERVICES === 'gateway') ?? [];
    expect(name).to.equal('gateway');
    const port = parseConfig({ PORT: str(envOf(gateway).PORT) ?? '' }).http.port;
    expect(arr(at(gateway, 'ports'))).to.deep.equal([`${port}:${port}`]);
    for (const [n, s] of arxos()) if (n !== 'gateway') expect(at(s, 'ports'), n).to.equal(undefined);
  });

  it("has Prometheus scrape each Arxos container's ops port by its name", function () {
    const prometheus = readYaml('deploy/prometheus/prometheus.yml');
    const job = arr(at(prometheus, 'scrape_configs')).find((j) => at(j, 'job_name') === 'arxos');
    const targets = arr(at(job, 'static_configs')).flatMap((c) => arr(at(c, 'targets')));
    const expected = arxos()
      .filter(([name]) => name !== 'migrate')
      .map(([name, s]) => `${name}:${String(envOf(s).OPS_PORT)}`);
    expect(targets).to.have.members(expected);
  });

  it('provisions Grafana from the mounted deploy/grafana folders', function () {
    const volumes = arr(at(services(), 'grafana', 'volumes')).map(String);
    expect(volumes).to.include('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    const provider = arr(at(readYaml('deploy/grafana/provisioning/dashboards/arxos.yml'), 'providers'))[0];
    expect(volumes).to.include(`./deploy/grafana/dashboards:${String(at(provider, 'options', 'path'))}:ro`);
  });
});
