import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { DASHBOARD_DIR, DASHBOARDS, dashboardText } from '../../deploy/grafana/dashboards';
import { arr, at, readYaml, str } from '../helpers/deploy';
import {
  dashboardExprs,
  dashboardFiles,
  metricNamesIn,
  readJson,
  unknownMetrics,
} from '../helpers/metrics-catalogue';

/*
 * deploy/grafana: the provisioned data source and the dashboards that use it. The JSON files are
 * written by `npm run dashboards` from deploy/grafana/dashboards.ts; both are checked here.
 */

const provisionedUid = () =>
  str(at(readYaml('deploy/grafana/provisioning/datasources/prometheus.yml'), 'datasources', 0, 'uid'));

/** Every `datasource` object anywhere in a dashboard. */
function datasources(v: unknown, found: unknown[] = []): unknown[] {
  if (Array.isArray(v)) for (const x of v) datasources(x, found);
  else if (typeof v === 'object' && v !== null)
    for (const [k, x] of Object.entries(v)) k === 'datasource' ? found.push(x) : datasources(x, found);
  return found;
}

describe('deployment: Grafana', function () {
  it('reads metric names out of PromQL, leaving out functions, labels, ranges and keywords', function () {
    expect(
      metricNamesIn(
        'histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{route="/x", s=~"$service"}[5m]))) / on(node) group_left b offset 1h > bool 1e3 and absent(up)',
      ),
    ).to.deep.equal(['a_bucket', 'b', 'up']);
  });

  it('has dashboard JSON files that are exactly what deploy/grafana/dashboards.ts writes', function () {
    const files = fs.readdirSync(DASHBOARD_DIR).filter((f) => f.endsWith('.json'));
    expect(files.sort()).to.deep.equal(Object.keys(DASHBOARDS).sort());
    for (const [file, content] of Object.entries(DASHBOARDS))
      expect(
        fs.readFileSync(path.join(DASHBOARD_DIR, file), 'utf8'),
        `${file}: run npm run dashboards`,
      ).to.equal(dashboardText(content));
  });

  it('provisions one Prometheus data source with a fixed uid', function () {
    const sources = arr(
      at(readYaml('deploy/grafana/provisioning/datasources/prometheus.yml'), 'datasources'),
    );
    expect(sources).to.have.length(1);
    expect(at(sources[0], 'type')).to.equal('prometheus');
    expect(provisionedUid()).to.match(/^[\w-]+$/);
  });

  it('has the three dashboards, each with unique uids and panel ids, on the provisioned data source', function () {
    const files = dashboardFiles();
    expect(files.map((f) => path.basename(f))).to.have.members([
      'arxos-overview.json',
      'arxos-infrastructure.json',
      'arxos-devices.json',
    ]);
    const uids = files.map((f) => at(readJson(f), 'uid'));
    expect(new Set(uids).size).to.equal(files.length);
    for (const file of files) {
      const dash = readJson(file);
      const ids = arr(at(dash, 'panels')).map((p) => at(p, 'id'));
      expect(
        ids.every((id) => Number.isInteger(id)),
        file,
      ).to.equal(true);
      expect(new Set(ids).size, `${file}: duplicate panel ids`).to.equal(ids.length);
      const found = datasources(dash);
      expect(found.length, file).to.be.greaterThan(ids.length);
      for (const ds of found) expect(at(ds, 'uid'), file).to.equal(provisionedUid());
      for (const p of arr(at(dash, 'panels')).filter((x) => at(x, 'type') !== 'row'))
        expect(arr(at(p, 'targets')), `${file}: ${String(at(p, 'title'))}`).to.not.be.empty;
    }
  });

  it('reads only catalogue metrics in every panel and variable', function () {
    expect(dashboardExprs().length).to.be.greaterThan(20);
    expect(unknownMetrics(dashboardExprs())).to.deep.equal([]);
  });

  it('covers RED per action, the infrastructure, and devices not seen per building', function () {
    const reads = (file: string) =>
      new Set(
        dashboardExprs()
          .filter((e) => e.where.startsWith(file))
          .flatMap((e) => metricNamesIn(e.expr)),
      );
    expect([...reads('arxos-overview.json')]).to.include.members([
      'arxos_action_duration_seconds_count',
      'arxos_action_errors_total',
      'arxos_action_duration_seconds_bucket',
      'arxos_http_request_duration_seconds_bucket',
    ]);
    expect([...reads('arxos-infrastructure.json')]).to.include.members([
      'arxos_db_pool_in_use',
      'arxos_cache_hits_total',
      'arxos_outbox_backlog',
      'arxos_outbox_oldest_age_seconds',
      'arxos_mq_consumed_total',
      'nodejs_eventloop_lag_p99_seconds',
      'process_resident_memory_bytes',
    ]);
    expect([...reads('arxos-devices.json')]).to.include.members(['arxos_devices', 'arxos_devices_not_seen']);
  });
});
