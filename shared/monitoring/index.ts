export { HealthRegistry, HEALTH_CONTENT_TYPE, httpStatusOf, processHealth, worstOf } from './health';
export type { HealthStatus, HealthReport, CheckResult, CheckReport, Check, RegisterOptions } from './health';
export {
  counter,
  gauge,
  histogram,
  timer,
  exposition,
  setupProcessMetrics,
  LATENCY_BUCKETS,
} from './metrics';
export {
  cacheHits,
  cacheMisses,
  dbQueryDuration,
  httpDuration,
  sqlOperation,
  trackPool,
  HEALTH_VALUE,
} from './platform.metrics';
export type { PoolSource } from './platform.metrics';
export { actionMetricsMiddleware, errorType } from './action.middleware';
export { EVENT_LOOP_LAG_MS } from './checks';
export { nodeService, NODE_SERVICE } from './node.service';
export { startOpsServer, sendHealth, sendMetrics } from './ops.server';
export type { OpsServer } from './ops.server';
