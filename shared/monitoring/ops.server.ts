import http, { type ServerResponse } from 'node:http';
import type { Log } from '../logging';
import { HEALTH_CONTENT_TYPE, httpStatusOf, processHealth, type HealthReport } from './health';
import { exposition } from './metrics';

export function sendHealth(res: ServerResponse, report: HealthReport) {
  res.statusCode = httpStatusOf(report);
  res.setHeader('Content-Type', HEALTH_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(report));
}

export function sendMetrics(res: ServerResponse, text: string, contentType: string) {
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/**
 * The small HTTP port of every process (OPS_PORT), apart from the API so that probes and scrapes
 * reach a process whatever it runs: `/health/live` (the process answers; nothing it depends on is
 * asked), `/health/ready` (it can serve now: database, broker...; 503 when not, and from SIGTERM on),
 * `/metrics` (this process's Prometheus exposition).
 */
export async function startOpsServer(port: number, log: Log): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const fail = (err: unknown) => {
      log.error('ops endpoint failed', { path, err });
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.statusCode = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
    } else if (path === '/health/live') sendHealth(res, processHealth().live());
    else if (path === '/health/ready')
      processHealth()
        .ready()
        .then((report) => sendHealth(res, report), fail);
    else if (path === '/metrics')
      exposition().then(({ text, contentType }) => sendMetrics(res, text, contentType), fail);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  // probes must not keep a stopping process alive
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  log.info('ops endpoints listening', { port: bound });
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
