import { Server, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Service } from 'moleculer';
import {
  httpDuration,
  processHealth,
  sendHealth,
  sendMetrics,
  timer,
  type HealthReport,
} from '../../shared/monitoring';

/*
 * The gateway's operations routes (API.md "Operations", no auth, not under /api/v1): this process's
 * liveness and readiness, and the whole platform's health and metrics from the monitoring service.
 */

const PLATFORM_TIMEOUT_MS = 10_000;
const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

function monitoringDown(err: unknown): HealthReport {
  return {
    status: 'fail',
    serviceId: 'arxos',
    checks: {
      'monitoring:health': [
        {
          status: 'fail',
          output: `the monitoring service did not answer: ${err instanceof Error ? err.message : String(err)}`,
          time: new Date().toISOString(),
        },
      ],
    },
  };
}

/** Asks the monitoring service (no retry: a platform view that comes late is no view). */
const askMonitoring = <T>(svc: Service, action: 'health' | 'metrics') =>
  svc.broker.call<T, Record<string, never>>(
    `monitoring.${action}`,
    {},
    { timeout: PLATFORM_TIMEOUT_MS, retries: 0 },
  );

export const OPS_ROUTES = [
  {
    path: '/health',
    mappingPolicy: 'restrict',
    bodyParsers: false,
    aliases: {
      'GET /'(this: Service, _req: IncomingMessage, res: ServerResponse) {
        askMonitoring<HealthReport>(this, 'health').then(
          (report) => sendHealth(res, report),
          (err: unknown) => sendHealth(res, monitoringDown(err)),
        );
      },
      'GET /live'(_req: IncomingMessage, res: ServerResponse) {
        sendHealth(res, processHealth().live());
      },
      'GET /ready'(_req: IncomingMessage, res: ServerResponse) {
        void processHealth()
          .ready()
          .then((report) => sendHealth(res, report));
      },
    },
  },
  {
    path: '/metrics',
    mappingPolicy: 'restrict',
    bodyParsers: false,
    aliases: {
      'GET /'(this: Service, _req: IncomingMessage, res: ServerResponse) {
        askMonitoring<string>(this, 'metrics').then(
          (text) => sendMetrics(res, text, PROMETHEUS_TEXT),
          (err: unknown) => {
            this.logger.warn('platform metrics unavailable', { err });
            res.statusCode = 503;
            sendMetrics(res, '# the monitoring service did not answer\n', PROMETHEUS_TEXT);
          },
        );
      },
    },
  },
];

const fullPathOf = (alias: unknown): string | undefined => {
  const p: unknown = typeof alias === 'object' && alias !== null ? Reflect.get(alias, 'fullPath') : undefined;
  return typeof p === 'string' ? p : undefined;
};

/**
 * The route template a request reached (`/api/v1/buildings/:id`): never the raw path, whose ids would
 * make a series per entity. A request refused before its alias ran (415, a body too large) gets the
 * alias it would have reached; one that matches no alias is `unmatched`.
 */
function routeOf(gateway: Service, req: IncomingMessage): string {
  const reached = fullPathOf(Reflect.get(req, '$alias'));
  if (reached) return reached;
  const url: unknown = Reflect.get(req, 'parsedUrl');
  const resolve: unknown = Reflect.get(gateway, 'resolveAlias');
  if (typeof url !== 'string' || typeof resolve !== 'function') return 'unmatched';
  let found: unknown;
  try {
    found = Reflect.apply(resolve, gateway, [url, req.method]);
  } catch {
    // a path that does not even decode (`%E0%A4%A`) reaches no route
    return 'unmatched';
  }
  const alias: unknown =
    typeof found === 'object' && found !== null ? Reflect.get(found, 'alias') : undefined;
  return fullPathOf(alias) ?? 'unmatched';
}

/** `arxos_http_request_duration_seconds` for every request the gateway's server answers. */
export function observeHttp(gateway: Service) {
  const server: unknown = Reflect.get(gateway, 'server');
  if (!(server instanceof Server)) return;
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const elapsed = timer();
    res.once('finish', () => {
      const labels = { method: req.method ?? 'OTHER', route: routeOf(gateway, req), status: res.statusCode };
      httpDuration.observe(labels, elapsed());
    });
  });
}
