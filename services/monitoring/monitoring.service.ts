import type { Service, ServiceBroker, ServiceSchema } from 'moleculer';
import { SERVICE_NAMES } from '../../shared/config';
import {
  gauge,
  HEALTH_VALUE,
  NODE_SERVICE,
  worstOf,
  type CheckReport,
  type HealthReport,
  type HealthStatus,
} from '../../shared/monitoring';
import { mergeExpositions } from './exposition';

/** A node that has not answered within this long counts as failing (well inside the 15 s promise). */
const NODE_TIMEOUT_MS = 3000;

/** One instance of a service: the health of the node it runs on. */
export interface InstanceReport extends CheckReport {
  componentType: 'instance';
  checks?: HealthReport['checks'];
}

/** The live instances of every service, by service name (Moleculer's registry: node id per entry). */
function instancesOf(broker: ServiceBroker): Map<string, string[]> {
  const instances = new Map<string, string[]>();
  for (const entry of broker.registry.getServiceList({ onlyAvailable: true })) {
    const nodeID: unknown = Reflect.get(entry, 'nodeID');
    if (typeof nodeID !== 'string') continue;
    instances.set(entry.name, [...(instances.get(entry.name) ?? []), nodeID]);
  }
  return instances;
}

/** Asks every node in turn over the broker (not retried: no answer in time is the answer). */
function askEach<T>(broker: ServiceBroker, nodeIDs: string[], action: string) {
  return Promise.all(
    nodeIDs.map((nodeID) =>
      broker
        .call<T, Record<string, never>>(
          `${NODE_SERVICE}.${action}`,
          {},
          { nodeID, timeout: NODE_TIMEOUT_MS, retries: 0 },
        )
        .then(
          (value) => ({ nodeID, value }),
          (err: unknown) => ({ nodeID, error: err instanceof Error ? err.message : String(err) }),
        ),
    ),
  );
}

/** Several instances: all failing fails the service; some failing or warning warns. */
function serviceStatus(instances: InstanceReport[]): HealthStatus {
  if (instances.length === 0 || instances.every((i) => i.status === 'fail')) return 'fail';
  return worstOf(instances.map((i) => (i.status === 'fail' ? 'warn' : i.status)));
}

/**
 * The platform's health: for each expected service (SERVICE_NAMES), `<service>:health` (pass, warn,
 * or fail when no instance serves) and `<service>:instances`, each instance with its node's checks.
 */
export async function clusterHealth(broker: ServiceBroker): Promise<HealthReport> {
  const instances = instancesOf(broker);
  const answers = await askEach<HealthReport>(broker, instances.get(NODE_SERVICE) ?? [], 'health');
  const byNode = new Map(answers.map((a) => [a.nodeID, a]));
  const time = new Date().toISOString();
  const checks: HealthReport['checks'] = {};
  const statuses: HealthStatus[] = [];
  for (const service of SERVICE_NAMES) {
    const reports = (instances.get(service) ?? []).map((nodeID): InstanceReport => {
      const answer = byNode.get(nodeID);
      if (!answer || 'error' in answer)
        return {
          componentId: nodeID,
          componentType: 'instance',
          status: 'fail',
          output: `no answer: ${answer?.error ?? 'the node has no health service'}`,
          time,
        };
      const { status, checks: nodeChecks } = answer.value;
      return { componentId: nodeID, componentType: 'instance', status, time, checks: nodeChecks };
    });
    const status = serviceStatus(reports);
    statuses.push(status);
    const live = reports.filter((r) => r.status !== 'fail').length;
    checks[`${service}:health`] = [
      {
        status,
        observedValue: live,
        observedUnit: 'instances',
        ...(reports.length === 0 ? { output: 'no live instance' } : {}),
        time,
      },
    ];
    if (reports.length > 0) checks[`${service}:instances`] = reports;
  }
  return {
    status: worstOf(statuses),
    serviceId: 'arxos',
    description: 'every service of the platform, its instances and their checks',
    checks,
  };
}

/** Every node's exposition, fetched over the broker and merged into one (one scrape target). */
export async function clusterMetrics(broker: ServiceBroker): Promise<string> {
  const nodes = instancesOf(broker).get(NODE_SERVICE) ?? [];
  const answers = await askEach<string>(broker, nodes, 'metrics');
  for (const a of answers)
    if ('error' in a)
      broker.logger.warn('a node did not give its metrics', { nodeID: a.nodeID, error: a.error });
  return mergeExpositions(answers.flatMap((a) => ('value' in a ? [a.value] : [])));
}

/** The gauges read the latest platform health, shared by their two collects and kept two seconds. */
const running = new Set<ServiceBroker>();
let last: { at: number; report: Promise<HealthReport> } | undefined;
function latest(): Promise<HealthReport | undefined> {
  const [broker] = running;
  if (!broker) return Promise.resolve(undefined);
  if (!last || Date.now() - last.at > 2000) last = { at: Date.now(), report: clusterHealth(broker) };
  return last.report;
}

const serviceInstances = gauge<'service'>({
  name: 'arxos_service_instances',
  help: 'Live instances of each expected service seen by the monitoring service',
  labels: ['service'],
  async collect() {
    const report = await latest();
    for (const service of SERVICE_NAMES)
      serviceInstances.set({ service }, report?.checks[`${service}:instances`]?.length ?? 0);
  },
});

const serviceHealth = gauge<'service'>({
  name: 'arxos_service_health',
  help: 'Health of each expected service (1 pass, 0.5 warn, 0 fail)',
  labels: ['service'],
  async collect() {
    const report = await latest();
    for (const service of SERVICE_NAMES) {
      const status = report?.checks[`${service}:health`]?.[0]?.status ?? 'fail';
      serviceHealth.set({ service }, HEALTH_VALUE[status]);
    }
  },
});

/** Cluster health and metrics: `GET /health` and `GET /metrics` of the gateway come here. */
const MonitoringService: ServiceSchema = {
  name: 'monitoring',
  actions: {
    health: {
      handler(this: Service) {
        return clusterHealth(this.broker);
      },
    },
    metrics: {
      handler(this: Service) {
        return clusterMetrics(this.broker);
      },
    },
  },
  started(this: Service) {
    running.add(this.broker);
  },
  stopped(this: Service) {
    running.delete(this.broker);
  },
};

export default MonitoringService;
