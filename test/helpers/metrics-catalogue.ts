/*
 * The metric names Arxos exports (issue 7's catalogue) and the PromQL of the alert rules and Grafana
 * dashboards that use them. The unit tests hold the expressions to the catalogue; the integration
 * test holds them to a live scrape, so a name that the code does not export is caught either way.
 */
import fs from 'node:fs';
import path from 'node:path';
import { arr, at, readYaml, rec, ROOT, str } from './deploy';

type MetricType = 'counter' | 'gauge' | 'histogram';

export const CATALOGUE: Readonly<Record<string, MetricType>> = {
  arxos_action_duration_seconds: 'histogram',
  arxos_action_errors_total: 'counter',
  arxos_http_request_duration_seconds: 'histogram',
  arxos_db_pool_size: 'gauge',
  arxos_db_pool_in_use: 'gauge',
  arxos_db_pool_waiting: 'gauge',
  arxos_db_pool_max: 'gauge',
  arxos_db_query_duration_seconds: 'histogram',
  arxos_cache_hits_total: 'counter',
  arxos_cache_misses_total: 'counter',
  arxos_outbox_backlog: 'gauge',
  arxos_outbox_oldest_age_seconds: 'gauge',
  arxos_outbox_published_total: 'counter',
  arxos_mq_published_total: 'counter',
  arxos_mq_consumed_total: 'counter',
  arxos_mq_retried_total: 'counter',
  arxos_mq_dead_lettered_total: 'counter',
  arxos_mq_returned_total: 'counter',
  arxos_mq_reconnects_total: 'counter',
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  arxos_health_status: 'gauge',
  arxos_ready: 'gauge',
  arxos_service_instances: 'gauge',
  arxos_service_health: 'gauge',
  arxos_devices: 'gauge',
  arxos_devices_not_seen: 'gauge',
};

/** Series Prometheus makes itself, not the application. */
export const PROMETHEUS_BUILTINS = ['up'];

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
]);
const KEYWORDS_2 = new Set(['bool', 'offset', 'inf', 'nan', 'atan2']);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, ranges,
 * label lists and function calls are taken out. `rate(x_bucket{a="b"}[5m])` reads `x_bucket`.
 */
export function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of bare.matchAll(/(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const name = m[1];
    if (name && !KEYWORDS.has(name) && !KEYWORDS_2.has(name.toLowerCase())) names.add(name);
  }
  return [...names].sort();
}

/** The catalogue's name a series name belongs to (a histogram's `_bucket`/`_sum`/`_count` too). */
export function catalogueNameOf(series: string): string | undefined {
  if (series in CATALOGUE) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return base !== series && CATALOGUE[base] === 'histogram' ? base : undefined;
}

export interface Expr {
  where: string;
  expr: string;
}

const RULES_DIR = 'deploy/prometheus/rules';
const DASHBOARD_DIR = 'deploy/grafana/dashboards';

function ruleEntries(): { file: string; rule: Record<string, unknown> }[] {
  return fs
    .readdirSync(path.join(ROOT, RULES_DIR))
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) =>
      arr(at(readYaml(`${RULES_DIR}/${f}`), 'groups')).flatMap((g) =>
        arr(at(g, 'rules')).map((r) => ({ file: f, rule: rec(r) })),
      ),
    );
}

/** Names defined by recording rules (`level:metric:operations`), usable like metrics. */
export const recordedNames = (): string[] => ruleEntries().flatMap(({ rule }) => str(rule.record) ?? []);

/** Every alerting and recording rule's expression. */
export const ruleExprs = (): Expr[] =>
  ruleEntries().map(({ file, rule }) => ({
    where: `${file}: ${str(rule.alert) ?? str(rule.record) ?? '?'}`,
    expr: str(rule.expr) ?? '',
  }));

export const dashboardFiles = (): string[] =>
  fs
    .readdirSync(path.join(ROOT, DASHBOARD_DIR))
    .filter((f) => f.endsWith('.json'))
    .map((f) => `${DASHBOARD_DIR}/${f}`);

export const readJson = (rel: string): unknown => JSON.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));

/** Every query of every panel and the query of every template variable. */
export const dashboardExprs = (): Expr[] =>
  dashboardFiles().flatMap((file) => {
    const dash = readJson(file);
    const panels = arr(at(dash, 'panels')).flatMap((p) =>
      arr(at(p, 'targets')).map((t) => ({
        where: `${path.basename(file)}: ${str(at(p, 'title')) ?? '?'}`,
        expr: str(at(t, 'expr')) ?? '',
      })),
    );
    const variables = arr(at(dash, 'templating', 'list')).map((v) => ({
      where: `${path.basename(file)}: variable ${str(at(v, 'name')) ?? '?'}`,
      // label_values(metric, label) reads `metric`
      expr: (str(at(v, 'definition')) ?? '').replace(/^label_values\((.*),\s*\w+\)$/, '$1'),
    }));
    return [...panels, ...variables];
  });

/** The series names of a Prometheus text exposition, with every histogram's three. */
export function namesInScrape(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type?.[1]) {
      names.add(type[1]);
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(type[1] + s);
    } else if (line && !line.startsWith('#')) {
      const sample = /^([A-Za-z_:][\w:]*)/.exec(line);
      if (sample?.[1]) names.add(sample[1]);
    }
  }
  return names;
}

/** Names an expression reads that are neither in the catalogue nor recorded nor Prometheus' own. */
export function unknownMetrics(exprs: Expr[]): string[] {
  const recorded = recordedNames();
  return exprs.flatMap(({ where, expr }) =>
    metricNamesIn(expr)
      .filter((n) => !catalogueNameOf(n) && !recorded.includes(n) && !PROMETHEUS_BUILTINS.includes(n))
      .map((n) => `${where}: ${n}`),
  );
}

/** Each alert's name and the catalogue metrics it reads, through recording rules too. */
export function alertMetrics(): Map<string, string[]> {
  const recorded = new Map(
    ruleEntries().flatMap(({ rule }) => (str(rule.record) ? [[str(rule.record), str(rule.expr) ?? '']] : [])),
  );
  const resolve = (expr: string): string[] =>
    metricNamesIn(expr).flatMap((n) => {
      const via = recorded.get(n);
      return via === undefined ? (catalogueNameOf(n) ?? n) : resolve(via);
    });
  return new Map(
    ruleEntries().flatMap(({ rule }) =>
      str(rule.alert) ? [[str(rule.alert) ?? '', [...new Set(resolve(str(rule.expr) ?? ''))]]] : [],
    ),
  );
}
