/*
 * The one entry point of a platform process: runs the services named by SERVICES (all by default)
 * on one Moleculer broker over RabbitMQ, and serves its health and metrics on OPS_PORT. `npm start`
 * runs one such process per service; Docker and Kubernetes run it with SERVICES set to one service each.
 */
import { ServiceBroker } from 'moleculer';
import { brokerOptions } from '../moleculer.config';
import { ArxosCacher, Cache } from '../shared/cache';
import { config, ConfigError, type Config } from '../shared/config';
import { createLogger, type Logger } from '../shared/logging';
import { processHealth, setupProcessMetrics, startOpsServer, type OpsServer } from '../shared/monitoring';
import { SERVICES } from '../services';

export async function createPlatformBroker(cfg: Config = config(), logger?: Logger): Promise<ServiceBroker> {
  const log = logger ?? createLogger({ level: cfg.logLevel });
  const cache = new Cache(cfg, log);
  const broker = new ServiceBroker(brokerOptions(cfg, log, new ArxosCacher(cache)));
  for (const name of cfg.services) broker.createService(await SERVICES[name]());
  return broker;
}

/**
 * SIGTERM: readiness fails at once (load balancers stop sending work), for SHUTDOWN_DELAY_MS; then
 * the broker stops, which withdraws this node's services from the others, waits for the calls in
 * flight (context tracking, up to REQUEST_TIMEOUT_MS) and only then stops the services.
 */
function handleSignals(cfg: Config, broker: ServiceBroker, ops: OpsServer) {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    broker.logger.info(`${signal}: draining`, { delayMs: cfg.ops.shutdownDelayMs });
    processHealth().startDraining();
    await new Promise((resolve) => setTimeout(resolve, cfg.ops.shutdownDelayMs));
    await broker.stop();
    await ops.close();
    broker.logger.info('stopped');
  };
  for (const signal of ['SIGTERM', 'SIGINT'])
    process.on(signal, () => {
      stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          broker.logger.error('stop failed', { err });
          process.exit(1);
        },
      );
    });
}

async function main() {
  const cfg = config();
  const logger = createLogger({ level: cfg.logLevel });
  setupProcessMetrics({ node: cfg.nodeID, app: cfg.services.join('+') });
  // liveness answers from the start; readiness fails until the broker has started
  const ops = await startOpsServer(cfg.ops.port, logger);
  const broker = await createPlatformBroker(cfg, logger);
  handleSignals(cfg, broker, ops);
  await broker.start();
  // a parent that forked us (the benchmark, the tests) learns that we serve, and where
  process.send?.({ ready: true, nodeID: cfg.nodeID, opsPort: ops.port });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  });
}
