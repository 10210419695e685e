/*
 * The seed's health check service: pluggable checks with per-check timeouts, answered in the
 * `application/health+json` format (draft-inadarei-api-health-check): status pass | warn | fail and
 * `checks` keyed `component:measurement`.
 */

export type HealthStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  status: HealthStatus;
  observedValue?: number | string | boolean;
  observedUnit?: string;
  output?: string;
}

export interface CheckReport extends CheckResult {
  componentId?: string;
  time: string;
}

export interface HealthReport {
  status: HealthStatus;
  serviceId?: string;
  version?: string;
  description?: string;
  checks: Record<string, CheckReport[]>;
}

export type Check = () => Promise<CheckResult> | CheckResult;

interface Registered {
  key: string;
  /** which instance of the component (a service's own pool, a broker's connection) */
  componentId?: string;
  check: Check;
  timeoutMs: number;
  /** readiness depends on it (liveness never depends on anything) */
  critical: boolean;
}

export interface RegisterOptions {
  timeoutMs?: number;
  critical?: boolean;
  componentId?: string;
}

const worst = (a: HealthStatus, b: HealthStatus): HealthStatus =>
  a === 'fail' || b === 'fail' ? 'fail' : a === 'warn' || b === 'warn' ? 'warn' : 'pass';

export const worstOf = (statuses: Iterable<HealthStatus>): HealthStatus => {
  let status: HealthStatus = 'pass';
  for (const s of statuses) status = worst(status, s);
  return status;
};

export class HealthRegistry {
  private readonly checks: Registered[] = [];
  private phase: 'starting' | 'serving' | 'draining' = 'starting';

  constructor(private readonly serviceId: string) {}

  /**
   * `key` is `component:measurement`, e.g. `postgres:responseTime`; a key may have several
   * checks (one per pool, per broker...), told apart by componentId. The result unregisters the check:
   * a stopped service's pool must not fail the process it leaves behind.
   */
  register(key: string, check: Check, opts: RegisterOptions = {}): () => void {
    if (!/^[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+$/.test(key))
      throw new Error(`health check key ${key} is not component:measurement`);
    const entry: Registered = {
      key,
      componentId: opts.componentId,
      check,
      timeoutMs: opts.timeoutMs ?? 2000,
      critical: opts.critical ?? true,
    };
    this.checks.push(entry);
    return () => {
      const at = this.checks.indexOf(entry);
      if (at >= 0) this.checks.splice(at, 1);
    };
  }

  /** The process serves (its broker started): readiness may pass from now on. */
  markServing() {
    if (this.phase === 'starting') this.phase = 'serving';
  }

  /** On SIGTERM: readiness fails from now on, so load balancers stop sending work before we stop. */
  startDraining() {
    this.phase = 'draining';
  }

  get draining() {
    return this.phase === 'draining';
  }

  private async runOne(r: Registered): Promise<CheckReport> {
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        Promise.resolve().then(r.check),
        new Promise<CheckResult>((resolve) => {
          timer = setTimeout(
            () => resolve({ status: 'fail', output: `no answer within ${r.timeoutMs} ms` }),
            r.timeoutMs,
          );
        }),
      ]);
      return {
        ...(r.componentId ? { componentId: r.componentId } : {}),
        observedValue: Date.now() - started,
        observedUnit: 'ms',
        ...result,
        time: new Date().toISOString(),
      };
    } catch (err) {
      return {
        ...(r.componentId ? { componentId: r.componentId } : {}),
        status: 'fail',
        output: err instanceof Error ? err.message : String(err),
        time: new Date().toISOString(),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Readiness: every check; a failing critical check fails the whole, a failing other one warns. */
  async ready(): Promise<HealthReport> {
    const reports = await Promise.all(this.checks.map((r) => this.runOne(r)));
    let status: HealthStatus = this.phase === 'serving' ? 'pass' : 'fail';
    const checks: Record<string, CheckReport[]> = {};
    this.checks.forEach((r, i) => {
      const report = reports[i];
      if (!report) return;
      (checks[r.key] ??= []).push(report);
      status = worst(status, r.critical ? report.status : report.status === 'fail' ? 'warn' : report.status);
    });
    if (this.phase !== 'serving')
      checks['process:phase'] = [
        {
          status: 'fail',
          output: this.phase === 'draining' ? 'shutting down' : 'starting',
          time: new Date().toISOString(),
        },
      ];
    return { status, serviceId: this.serviceId, checks };
  }

  /** Liveness: the process answers; nothing it depends on is asked. */
  live(): HealthReport {
    return {
      status: 'pass',
      serviceId: this.serviceId,
      checks: {
        'process:uptime': [
          {
            status: 'pass',
            observedValue: Math.round(process.uptime()),
            observedUnit: 's',
            time: new Date().toISOString(),
          },
        ],
      },
    };
  }
}

export const HEALTH_CONTENT_TYPE = 'application/health+json';
export const httpStatusOf = (report: HealthReport) => (report.status === 'fail' ? 503 : 200);

let processRegistry: HealthRegistry | undefined;

/** The health registry of this process: every component that holds a connection registers here. */
export function processHealth(): HealthRegistry {
  processRegistry ??= new HealthRegistry(`arxos:${process.pid}`);
  return processRegistry;
}
