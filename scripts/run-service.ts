/*
 * The one entry point of a platform process: runs the services named by SERVICES (all by default)
 * on one Moleculer broker over RabbitMQ. `npm start` runs one such process per service; Docker and
 * Kubernetes run it with SERVICES set to one service each.
 */
import { ServiceBroker } from 'moleculer';
import { brokerOptions } from '../moleculer.config';
import { ArxosCacher, Cache } from '../shared/cache';
import { config, ConfigError, type Config } from '../shared/config';
import { createLogger } from '../shared/logging';
import { processHealth } from '../shared/monitoring';
import { SERVICES } from '../services';

export async function createPlatformBroker(cfg: Config = config()): Promise<ServiceBroker> {
  const logger = createLogger({ level: cfg.logLevel });
  const cache = new Cache(cfg, logger);
  const broker = new ServiceBroker(brokerOptions(cfg, logger, new ArxosCacher(cache)));
  processHealth().register(
    'redis:cache',
    () =>
      cache.healthy()
        ? { status: 'pass' }
        : { status: 'warn', output: 'Redis unreachable: reads skip the cache' },
    { critical: false },
  );
  for (const name of cfg.services) broker.createService(await SERVICES[name]());
  return broker;
}

async function main() {
  const broker = await createPlatformBroker();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    broker.logger.info(`${signal}: stopping`);
    // readiness fails first, so no new work is routed here while in-flight work drains
    processHealth().startDraining();
    setTimeout(
      () => {
        broker.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            broker.logger.error('stop failed', err);
            process.exit(1);
          },
        );
      },
      config().env === 'production' ? 5000 : 0,
    ).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await broker.start();
  // a parent that forked us (the benchmark) learns that we serve
  process.send?.('ready');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  });
}
