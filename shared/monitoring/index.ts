export { HealthRegistry, HEALTH_CONTENT_TYPE, httpStatusOf, processHealth } from './health';
export type { HealthStatus, HealthReport, CheckResult, CheckReport, Check } from './health';
