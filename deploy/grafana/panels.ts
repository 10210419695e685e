/*
 * Builders of Grafana panels and dashboards, all on the provisioned Prometheus data source:
 * one shape for every panel of deploy/grafana/dashboards.ts.
 */
/** The uid given to the Prometheus data source in provisioning/datasources/prometheus.yml. */
export const DATASOURCE_UID = 'arxos-prometheus';
const datasource = { type: 'prometheus', uid: DATASOURCE_UID };

export interface Query {
  expr: string;
  legend: string;
}

export interface PanelSpec {
  title: string;
  kind: 'timeseries' | 'stat' | 'bargauge' | 'table';
  queries: Query[];
  unit?: string;
  description?: string;
  /** grid width out of 24 */
  width?: number;
  height?: number;
}

export const q = (expr: string, legend = ''): Query => ({ expr, legend });

function panel(spec: PanelSpec, id: number, x: number, y: number) {
  const instant = spec.kind !== 'timeseries';
  return {
    id,
    type: spec.kind,
    title: spec.title,
    description: spec.description ?? '',
    datasource,
    gridPos: { x, y, w: spec.width ?? 12, h: spec.height ?? 8 },
    fieldConfig: { defaults: { unit: spec.unit ?? 'short' }, overrides: [] },
    options:
      spec.kind === 'timeseries'
        ? { legend: { displayMode: 'table', placement: 'bottom', calcs: ['lastNotNull', 'max'] } }
        : {},
    targets: spec.queries.map((query, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource,
      expr: query.expr,
      legendFormat: query.legend,
      instant,
      range: !instant,
      ...(spec.kind === 'table' ? { format: 'table' } : {}),
    })),
  };
}

export interface Row {
  title: string;
  panels: PanelSpec[];
}

export function dashboard(
  uid: string,
  title: string,
  rows: Row[],
  variables: { name: string; query: string }[],
) {
  const panels: unknown[] = [];
  let id = 0;
  let y = 0;
  for (const row of rows) {
    panels.push({
      id: (id += 1),
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { x: 0, y, w: 24, h: 1 },
    });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const spec of row.panels) {
      const w = spec.width ?? 12;
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push(panel(spec, (id += 1), x, y));
      x += w;
      rowHeight = Math.max(rowHeight, spec.height ?? 8);
    }
    y += rowHeight;
  }
  return {
    uid,
    title,
    tags: ['arxos'],
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: variables.map((v) => ({
        name: v.name,
        type: 'query',
        datasource,
        query: { query: v.query, refId: 'vars' },
        definition: v.query,
        includeAll: true,
        multi: true,
        allValue: '.*',
        current: { text: 'All', value: '$__all' },
        refresh: 2,
        sort: 1,
      })),
    },
    annotations: { list: [] },
    panels,
  };
}

export const rate = (metric: string, by: string, filter = '') =>
  `sum by (${by}) (rate(${metric}${filter}[5m]))`;
export const quantile = (p: number, metric: string, by: string, filter = '') =>
  `histogram_quantile(${p}, sum by (${by}, le) (rate(${metric}_bucket${filter}[5m])))`;
