import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ServiceBroker } from 'moleculer';
import { processHealth, type CheckResult } from './health';

/** Event-loop lag (p99 since the previous check) above these warns / fails. */
export const EVENT_LOOP_LAG_MS = { warn: 200, fail: 1000 };

let loop: IntervalHistogram | undefined;

/**
 * `eventloop:lag`: a process whose loop stalls answers everything late. Not critical for readiness: a
 * loaded process is slow, not unable to serve, and failing readiness under load would pile the load
 * onto the other instances.
 */
export function registerEventLoopCheck(): void {
  if (loop) return; // one per process, however many brokers it runs
  const histogram = monitorEventLoopDelay({ resolution: 20 });
  histogram.enable();
  loop = histogram;
  processHealth().register(
    'eventloop:lag',
    (): CheckResult => {
      const p99 = histogram.count > 0 ? histogram.percentile(99) / 1e6 : 0;
      histogram.reset();
      const ms = Math.round(p99 * 10) / 10;
      const status = ms >= EVENT_LOOP_LAG_MS.fail ? 'fail' : ms >= EVENT_LOOP_LAG_MS.warn ? 'warn' : 'pass';
      return { status, observedValue: ms, observedUnit: 'ms', output: 'p99 since the previous check' };
    },
    { critical: false },
  );
}

/** `rabbitmq:connection`: the Moleculer transporter of this broker is connected (no RPC without it). */
export function registerBrokerCheck(broker: ServiceBroker): () => void {
  return processHealth().register(
    'rabbitmq:connection',
    () =>
      broker.transit?.connected
        ? { status: 'pass' }
        : { status: 'fail', output: 'the Moleculer transporter is not connected to RabbitMQ' },
    { componentId: broker.nodeID },
  );
}
