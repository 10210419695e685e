import { processHealth, worstOf, type HealthReport, type HealthStatus } from './health';
import { counter, gauge, histogram } from './metrics';

/*
 * The platform's metrics that several shared components feed (the catalogue in README "Operations:
 * health and metrics"). Components own their numbers; this file owns the names.
 */

export const actionDuration = histogram<'service' | 'action'>({
  name: 'arxos_action_duration_seconds',
  help: 'Moleculer action calls served by this process (cache hits and errors included)',
  labels: ['service', 'action'],
});

export const actionErrors = counter<'service' | 'action' | 'type'>({
  name: 'arxos_action_errors_total',
  help: 'Moleculer action calls served by this process that failed, by stable error type',
  labels: ['service', 'action', 'type'],
});

export const httpDuration = histogram<'method' | 'route' | 'status'>({
  name: 'arxos_http_request_duration_seconds',
  help: 'HTTP requests answered by the gateway, by route template (`unmatched` for none)',
  labels: ['method', 'route', 'status'],
});

export const dbQueryDuration = histogram<'operation'>({
  name: 'arxos_db_query_duration_seconds',
  help: 'SQL statements run by this process, by operation (select, insert, update, delete, other)',
  labels: ['operation'],
});

export const cacheHits = counter({ name: 'arxos_cache_hits_total', help: 'Cache reads that found a value' });
export const cacheMisses = counter({
  name: 'arxos_cache_misses_total',
  help: 'Cache reads that found nothing (Redis errors included)',
});

/** The connection pools of this process (one per data service it runs); the gauges add them up. */
export interface PoolSource {
  poolStats(): { size: number; using: number; waiting: number; max: number };
}
const pools = new Set<PoolSource>();

export function trackPool(pool: PoolSource): () => void {
  pools.add(pool);
  return () => pools.delete(pool);
}

const POOL_GAUGES: [keyof ReturnType<PoolSource['poolStats']>, string, string][] = [
  ['size', 'arxos_db_pool_size', 'Database connections open'],
  ['using', 'arxos_db_pool_in_use', 'Database connections handed out to a query or transaction'],
  ['waiting', 'arxos_db_pool_waiting', 'Callers queued for a database connection'],
  ['max', 'arxos_db_pool_max', 'Most database connections the pools may open'],
];

for (const [field, name, help] of POOL_GAUGES) {
  const g = gauge({
    name,
    help,
    collect() {
      let total = 0;
      for (const p of pools) total += p.poolStats()[field];
      g.set(total);
    },
  });
}

/** `SELECT ...` → select; statements other than the four data verbs (BEGIN, WITH, LISTEN...) → other. */
export function sqlOperation(sql: string): 'select' | 'insert' | 'update' | 'delete' | 'other' {
  const verb = /^\s*(?:Execut(?:ed|ing) \([^)]*\):\s*)?(\w+)/i.exec(sql)?.[1]?.toLowerCase();
  return verb === 'select' || verb === 'insert' || verb === 'update' || verb === 'delete' ? verb : 'other';
}

/** One run of the process's checks serves both health gauges of a scrape (their collects run together). */
let lastReady: { at: number; report: Promise<HealthReport> } | undefined;
function readyReport() {
  if (!lastReady || Date.now() - lastReady.at > 1000)
    lastReady = { at: Date.now(), report: processHealth().ready() };
  return lastReady.report;
}

export const HEALTH_VALUE: Record<HealthStatus, number> = { pass: 1, warn: 0.5, fail: 0 };

const healthStatus = gauge<'check'>({
  name: 'arxos_health_status',
  help: 'Health checks of this process (1 pass, 0.5 warn, 0 fail), by component:measurement',
  labels: ['check'],
  async collect() {
    const report = await readyReport();
    healthStatus.reset();
    for (const [check, results] of Object.entries(report.checks))
      healthStatus.set({ check }, HEALTH_VALUE[worstOf(results.map((r) => r.status))]);
  },
});

const ready = gauge({
  name: 'arxos_ready',
  help: 'Whether this process takes work (1 ready, 0 not ready or draining)',
  async collect() {
    ready.set((await readyReport()).status === 'fail' ? 0 : 1);
  },
});
