import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';

/*
 * The seed's metrics collector as a thin typed layer on prom-client's default registry: one
 * exposition per process, which Moleculer's metrics are not part of (they are off; the action
 * middleware measures calls instead). Names follow Prometheus' rules, checked here once rather than
 * by every caller: base units, `_total` on counters, histograms rather than summaries.
 */

const NAME = /^[a-z_][a-z0-9_]*$/;

function checkName(name: string, kind: 'counter' | 'gauge' | 'histogram') {
  if (!NAME.test(name)) throw new Error(`metric ${name}: not a Prometheus name`);
  if (kind === 'counter' && !name.endsWith('_total')) throw new Error(`counter ${name} must end in _total`);
  if (kind !== 'counter' && name.endsWith('_total'))
    throw new Error(`${kind} ${name} must not end in _total`);
}

interface Spec<L extends string> {
  name: string;
  help: string;
  labels?: readonly L[];
  /** runs at scrape time: read a live value (a pool, a query) into the metric */
  collect?: (this: void) => Promise<void> | void;
}

/** prom-client's options of a counter or gauge, checked once here */
function optionsOf<L extends string>(spec: Spec<L>, kind: 'counter' | 'gauge') {
  checkName(spec.name, kind);
  const { collect } = spec;
  return {
    name: spec.name,
    help: spec.help,
    labelNames: spec.labels ?? [],
    ...(collect ? { collect: () => collect() } : {}),
  };
}

export const counter = <L extends string = never>(spec: Spec<L>) =>
  new Counter<L>(optionsOf(spec, 'counter'));

export const gauge = <L extends string = never>(spec: Spec<L>) => new Gauge<L>(optionsOf(spec, 'gauge'));

/** Latency buckets in seconds, from a Redis hit (~0.5 ms) to a request timeout (10 s). */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export function histogram<L extends string = never>(
  spec: Omit<Spec<L>, 'collect'> & { buckets?: number[] },
): Histogram<L> {
  checkName(spec.name, 'histogram');
  if (!spec.name.endsWith('_seconds') && !spec.name.endsWith('_bytes'))
    throw new Error(`histogram ${spec.name} must be in a base unit (_seconds, _bytes)`);
  return new Histogram<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labels ?? [],
    buckets: spec.buckets ?? LATENCY_BUCKETS,
  });
}

/** Starts a timer; calling the result gives the seconds elapsed (high resolution). */
export function timer(): () => number {
  const start = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - start) / 1e9;
}

let defaultsOn = false;

/**
 * The process's own labels on every series (`node`: the Moleculer node id, `app`: the services it
 * runs joined by `+`), and prom-client's default metrics (CPU, memory, heap, event-loop lag). Called
 * once by the process entry point; tests running several nodes in one process do not call it.
 */
export function setupProcessMetrics(labels: { node: string; app: string }) {
  register.setDefaultLabels(labels);
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics();
  // gauges named like counters, which `promtool check metrics` refuses; their per-type twins
  // (`nodejs_active_handles{type}`...) stay, and sum to the same number
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    register.removeSingleMetric(name);
}

/** This process's exposition, Prometheus text format. */
export async function exposition(): Promise<{ contentType: string; text: string }> {
  return { contentType: register.contentType, text: await register.metrics() };
}
