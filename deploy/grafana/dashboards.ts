/*
 * The Grafana dashboards of deploy/grafana/dashboards/*.json, written as code so that every panel
 * has the same shape and the provisioned data source. `npm run dashboards` writes the JSON files;
 * a test fails when they differ from what this file produces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dashboard, q, quantile, rate } from './panels';
export { DATASOURCE_UID } from './panels';

const ACTION = '{service=~"$service"}';
const APP = '{app=~"$app"}';

const overview = dashboard(
  'arxos-overview',
  'Arxos: platform overview',
  [
    {
      title: 'Platform',
      panels: [
        {
          title: 'Live instances per service',
          kind: 'stat',
          width: 8,
          queries: [q('max by (service) (arxos_service_instances)', '{{service}}')],
        },
        {
          title: 'Service health (1 pass, 0.5 warn, 0 fail)',
          kind: 'stat',
          width: 8,
          queries: [q('min by (service) (arxos_service_health)', '{{service}}')],
        },
        {
          title: 'Targets up',
          kind: 'stat',
          width: 8,
          queries: [q('sum(up{job="arxos"})', 'up'), q('count(up{job="arxos"})', 'scraped')],
        },
      ],
    },
    {
      title: 'HTTP API (gateway)',
      panels: [
        {
          title: 'Requests per second by route',
          kind: 'timeseries',
          unit: 'reqps',
          queries: [
            q(rate('arxos_http_request_duration_seconds_count', 'method, route'), '{{method}} {{route}}'),
          ],
        },
        {
          title: 'Responses per second by status',
          kind: 'timeseries',
          unit: 'reqps',
          queries: [q(rate('arxos_http_request_duration_seconds_count', 'status'), '{{status}}')],
        },
        {
          title: 'Share of 5xx responses',
          kind: 'timeseries',
          unit: 'percentunit',
          queries: [
            q(
              'sum(rate(arxos_http_request_duration_seconds_count{status=~"5.."}[5m])) / sum(rate(arxos_http_request_duration_seconds_count[5m]))',
              '5xx',
            ),
          ],
        },
        {
          title: 'Response time p95 / p99 by route',
          kind: 'timeseries',
          unit: 's',
          queries: [
            q(quantile(0.95, 'arxos_http_request_duration_seconds', 'route'), 'p95 {{route}}'),
            q(quantile(0.99, 'arxos_http_request_duration_seconds', 'route'), 'p99 {{route}}'),
          ],
        },
      ],
    },
    {
      title: 'Actions (rate, errors, duration)',
      panels: [
        {
          title: 'Calls per second by action',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(
              rate('arxos_action_duration_seconds_count', 'service, action', ACTION),
              '{{service}}.{{action}}',
            ),
          ],
        },
        {
          title: 'Errors per second by action and type',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(
              rate('arxos_action_errors_total', 'service, action, type', ACTION),
              '{{service}}.{{action}} {{type}}',
            ),
          ],
        },
        {
          title: 'Error ratio by action',
          kind: 'timeseries',
          unit: 'percentunit',
          queries: [
            q(
              `${rate('arxos_action_errors_total', 'service, action', ACTION)} / ${rate('arxos_action_duration_seconds_count', 'service, action', ACTION)}`,
              '{{service}}.{{action}}',
            ),
          ],
        },
        {
          title: 'Duration p95 / p99 by action',
          kind: 'timeseries',
          unit: 's',
          queries: [
            q(
              quantile(0.95, 'arxos_action_duration_seconds', 'service, action', ACTION),
              'p95 {{service}}.{{action}}',
            ),
            q(
              quantile(0.99, 'arxos_action_duration_seconds', 'service, action', ACTION),
              'p99 {{service}}.{{action}}',
            ),
          ],
        },
      ],
    },
  ],
  [{ name: 'service', query: 'label_values(arxos_action_duration_seconds_count, service)' }],
);

const infrastructure = dashboard(
  'arxos-infrastructure',
  'Arxos: infrastructure',
  [
    {
      title: 'Readiness',
      panels: [
        {
          title: 'Ready nodes',
          kind: 'timeseries',
          width: 8,
          queries: [q(`max by (node) (arxos_ready${APP})`, '{{node}}')],
        },
        {
          title: 'Failing or warning checks',
          kind: 'table',
          width: 8,
          queries: [q(`arxos_health_status${APP} < 1`, '{{node}} {{check}}')],
        },
        {
          title: 'Scrape targets up',
          kind: 'timeseries',
          width: 8,
          queries: [q('up{job="arxos"}', '{{instance}}')],
        },
      ],
    },
    {
      title: 'PostgreSQL',
      panels: [
        {
          title: 'Connection pool by node',
          kind: 'timeseries',
          queries: [
            q(`arxos_db_pool_in_use${APP}`, 'in use {{node}}'),
            q(`arxos_db_pool_size${APP}`, 'open {{node}}'),
            q(`arxos_db_pool_waiting${APP}`, 'waiting {{node}}'),
            q(`arxos_db_pool_max${APP}`, 'max {{node}}'),
          ],
        },
        {
          title: 'Query duration p99 by operation',
          kind: 'timeseries',
          unit: 's',
          queries: [q(quantile(0.99, 'arxos_db_query_duration_seconds', 'operation', APP), '{{operation}}')],
        },
      ],
    },
    {
      title: 'Cache',
      panels: [
        {
          title: 'Cache hit ratio by app',
          kind: 'timeseries',
          unit: 'percentunit',
          queries: [
            q(
              `${rate('arxos_cache_hits_total', 'app', APP)} / (${rate('arxos_cache_hits_total', 'app', APP)} + ${rate('arxos_cache_misses_total', 'app', APP)})`,
              '{{app}}',
            ),
          ],
        },
        {
          title: 'Cache reads per second',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(rate('arxos_cache_hits_total', 'app', APP), 'hits {{app}}'),
            q(rate('arxos_cache_misses_total', 'app', APP), 'misses {{app}}'),
          ],
        },
      ],
    },
    {
      title: 'Outbox and message queue',
      panels: [
        {
          title: 'Outbox backlog',
          kind: 'timeseries',
          width: 8,
          queries: [q(`max by (app) (arxos_outbox_backlog${APP})`, '{{app}}')],
        },
        {
          title: 'Oldest unpublished event',
          kind: 'timeseries',
          width: 8,
          unit: 's',
          queries: [q(`max by (app) (arxos_outbox_oldest_age_seconds${APP})`, '{{app}}')],
        },
        {
          title: 'Outbox published per second',
          kind: 'timeseries',
          width: 8,
          unit: 'ops',
          queries: [q(rate('arxos_outbox_published_total', 'app', APP), '{{app}}')],
        },
        {
          title: 'Messages per second',
          kind: 'timeseries',
          unit: 'ops',
          queries: [
            q(rate('arxos_mq_published_total', 'app', APP), 'published {{app}}'),
            q(rate('arxos_mq_consumed_total', 'app', APP), 'consumed {{app}}'),
            q(rate('arxos_mq_retried_total', 'app', APP), 'retried {{app}}'),
          ],
        },
        {
          title: 'Dead-lettered, returned, reconnects (per hour)',
          kind: 'timeseries',
          queries: [
            q(`sum by (app) (increase(arxos_mq_dead_lettered_total${APP}[1h]))`, 'dead-lettered {{app}}'),
            q(`sum by (app) (increase(arxos_mq_returned_total${APP}[1h]))`, 'returned {{app}}'),
            q(`sum by (app) (increase(arxos_mq_reconnects_total${APP}[1h]))`, 'reconnects {{app}}'),
          ],
        },
      ],
    },
    {
      title: 'Node.js processes',
      panels: [
        {
          title: 'Event loop lag',
          kind: 'timeseries',
          width: 8,
          unit: 's',
          queries: [
            q(`nodejs_eventloop_lag_p99_seconds${APP}`, 'p99 {{node}}'),
            q(`nodejs_eventloop_lag_seconds${APP}`, 'now {{node}}'),
          ],
        },
        {
          title: 'Memory',
          kind: 'timeseries',
          width: 8,
          unit: 'bytes',
          queries: [
            q(`process_resident_memory_bytes${APP}`, 'rss {{node}}'),
            q(`nodejs_heap_size_used_bytes${APP}`, 'heap {{node}}'),
          ],
        },
        {
          title: 'CPU',
          kind: 'timeseries',
          width: 8,
          unit: 'percentunit',
          queries: [q(`rate(process_cpu_seconds_total${APP}[5m])`, '{{node}}')],
        },
      ],
    },
  ],
  [{ name: 'app', query: 'label_values(arxos_ready, app)' }],
);

// The device gauges count rows of the whole database, so every instance reporting them reports the
// same numbers: `max`, not `sum`, or two instances would double the count.
const devices = dashboard(
  'arxos-devices',
  'Arxos: buildings and devices',
  [
    {
      title: 'Devices',
      panels: [
        {
          title: 'Devices by status',
          kind: 'bargauge',
          width: 8,
          queries: [q('max by (status) (arxos_devices)', '{{status}}')],
        },
        {
          title: 'Devices by type',
          kind: 'bargauge',
          width: 8,
          queries: [q('sum by (type) (max by (status, type) (arxos_devices))', '{{type}}')],
        },
        {
          title: 'Devices by status and type',
          kind: 'table',
          width: 8,
          queries: [q('max by (status, type) (arxos_devices)', '')],
        },
        {
          title: 'Devices by status over time',
          kind: 'timeseries',
          width: 24,
          queries: [q('max by (status) (arxos_devices)', '{{status}}')],
        },
      ],
    },
    {
      title: 'Devices not seen for 15 minutes',
      panels: [
        {
          title: 'Buildings with devices not seen for 15 minutes',
          kind: 'table',
          description: 'Per building: devices whose last heartbeat is older than 15 minutes.',
          queries: [q('sort_desc(max by (building_id) (arxos_devices_not_seen) > 0)', '')],
        },
        {
          title: 'Devices not seen, by building',
          kind: 'timeseries',
          queries: [q('max by (building_id) (arxos_devices_not_seen) > 0', '{{building_id}}')],
        },
      ],
    },
  ],
  [],
);

export const DASHBOARDS = {
  'arxos-overview.json': overview,
  'arxos-infrastructure.json': infrastructure,
  'arxos-devices.json': devices,
};

export const DASHBOARD_DIR = path.join(__dirname, 'dashboards');

export const dashboardText = (content: unknown) => `${JSON.stringify(content, null, 2)}\n`;

if (require.main === module) {
  for (const [file, content] of Object.entries(DASHBOARDS)) {
    fs.writeFileSync(path.join(DASHBOARD_DIR, file), dashboardText(content));
    console.log(`[arxos] wrote deploy/grafana/dashboards/${file}`);
  }
}
