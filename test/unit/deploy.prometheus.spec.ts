import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { arr, at, PROMTOOL_HINT, readYaml, ROOT, runTool, str } from '../helpers/deploy';
import { alertMetrics, ruleExprs, unknownMetrics } from '../helpers/metrics-catalogue';

/*
 * deploy/prometheus: promtool accepts the configuration and the rules, and every expression reads
 * only metrics of the catalogue (or what a recording rule made of them).
 */

const RULE_FILES = fs
  .readdirSync(path.join(ROOT, 'deploy/prometheus/rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => `deploy/prometheus/rules/${f}`);

describe('deployment: Prometheus configuration and rules', function () {
  this.timeout(30_000);

  it('passes promtool check config (compose scrape configuration, with its rule files)', function () {
    const out = runTool('promtool', ['check', 'config', 'deploy/prometheus/prometheus.yml'], PROMTOOL_HINT);
    expect(out).to.include('SUCCESS');
    expect(out).to.match(/[1-9]\d* rule files? found/);
  });

  it('passes promtool check rules', function () {
    expect(RULE_FILES).to.not.be.empty;
    const out = runTool('promtool', ['check', 'rules', ...RULE_FILES], PROMTOOL_HINT);
    expect(out).to.match(/SUCCESS: [1-9]\d* rules found/);
  });

  it('reads only catalogue metrics in every rule', function () {
    expect(ruleExprs().length).to.be.greaterThan(5);
    expect(unknownMetrics(ruleExprs())).to.deep.equal([]);
  });

  it('alerts on errors, latency p99, the outbox, dead letters, readiness and missing instances', function () {
    const read = new Set([...alertMetrics().values()].flat());
    expect(alertMetrics().size).to.be.greaterThan(5);
    for (const metric of [
      'arxos_action_errors_total',
      'arxos_action_duration_seconds',
      'arxos_http_request_duration_seconds',
      'arxos_outbox_oldest_age_seconds',
      'arxos_mq_dead_lettered_total',
      'arxos_ready',
      'arxos_service_instances',
    ])
      expect(read.has(metric), `no alert reads ${metric}`).to.equal(true);
  });

  it('gives every alert a severity and a summary', function () {
    for (const file of RULE_FILES)
      for (const group of arr(at(readYaml(file), 'groups')))
        for (const rule of arr(at(group, 'rules')).filter((r) => at(r, 'alert'))) {
          const name = String(at(rule, 'alert'));
          expect(['warning', 'critical'], name).to.include(at(rule, 'labels', 'severity'));
          expect(str(at(rule, 'annotations', 'summary')), name).to.not.be.empty;
        }
  });

  it('keeps the Kubernetes scrape configuration on pod annotations, with the same rules', function () {
    // Debian's promtool is built without Kubernetes discovery, so this file is checked by shape
    const config = readYaml('deploy/prometheus/prometheus.k8s.yml');
    expect(at(config, 'rule_files')).to.deep.equal(
      at(readYaml('deploy/prometheus/prometheus.yml'), 'rule_files'),
    );
    const job = arr(at(config, 'scrape_configs'))[0];
    expect(at(job, 'kubernetes_sd_configs', 0, 'role')).to.equal('pod');
    const sources = arr(at(job, 'relabel_configs')).flatMap((r) => arr(at(r, 'source_labels')));
    for (const a of ['scrape', 'path', 'port'])
      expect(sources, a).to.include(`__meta_kubernetes_pod_annotation_prometheus_io_${a}`);
  });
});
