import { Errors, type BrokerErrorHandlerInfo, type BrokerOptions } from 'moleculer';
import { amqpUrl, type Config } from './shared/config';
import { rolesMiddleware } from './shared/auth';
import { contextMiddleware } from './shared/context';
import { isArxosError } from './shared/errors';
import { moleculerLogger, type Logger } from './shared/logging';
import { actionMetricsMiddleware, nodeService, processHealth } from './shared/monitoring';
import type { ArxosCacher } from './shared/cache';

/**
 * Broker options, all from config. The AMQP transporter is tuned as FACTS.md measured: its defaults
 * (prefetch 1, Nagle on) cap the platform at ~23 calls/s with ~44 ms per call.
 */
export function brokerOptions(cfg: Config, logger: Logger, cacher?: ArxosCacher): BrokerOptions {
  return {
    namespace: cfg.namespace,
    nodeID: cfg.nodeID,
    logger: moleculerLogger(logger, cfg.logLevel),
    logLevel: cfg.logLevel,
    transporter: {
      type: 'AMQP',
      options: {
        url: amqpUrl(cfg.amqp),
        // many requests in flight per node instead of one
        prefetch: cfg.amqp.prefetch,
        // small RPC frames must not wait on Nagle + delayed ACK (~40 ms each)
        socketOptions: { noDelay: true },
        // a heartbeat packet older than this is pointless to deliver
        heartbeatTimeToLive: 5000,
      },
    },
    requestTimeout: cfg.requestTimeoutMs,
    retryPolicy: {
      enabled: true,
      retries: 3,
      delay: 100,
      maxDelay: 1000,
      factor: 2,
      // only what says it is worth retrying (a node gone, a timeout): never a 4xx
      check: (err: Error) => err instanceof Errors.MoleculerRetryableError,
    },
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 20,
      windowTime: 60,
      halfOpenTime: 10_000,
      // client errors say nothing about the callee's health
      check: (err: Error) => !isArxosError(err) || err.code >= 500,
    },
    // the entry point handles SIGTERM/SIGINT (readiness first, then drain)
    skipProcessEventRegistration: true,
    heartbeatInterval: 5,
    heartbeatTimeout: 15,
    validator: true,
    cacher,
    // Moleculer's metrics stay off: their own registry and reporter, names in ms and not in base units,
    // and a cost on every call. The action middleware below measures what we use of them, in
    // prom-client's registry, the one exposition of the process (README "Operations").
    metrics: false,
    tracing: false,
    // on stop, each service waits for the calls it is serving (the SIGTERM drain)
    tracking: { enabled: true, shutdownTimeout: cfg.requestTimeoutMs },
    middlewares: [contextMiddleware, rolesMiddleware],
    created(broker) {
      // added after Moleculer's own middlewares, so it wraps them all (validation, cache, errors)
      broker.middlewares.add(actionMetricsMiddleware);
      broker.createService(nodeService);
    },
    started() {
      processHealth().markServing();
    },
    // unknown errors are logged with their stack and request id here, once, on the node where they
    // happened (a caller gets the same error back from a remote node: not logged again); the gateway
    // shows the client no detail
    errorHandler(err: Error, info: BrokerErrorHandlerInfo) {
      const ctx = 'ctx' in info ? info.ctx : undefined;
      const remote = ctx?.endpoint ? !ctx.endpoint.local : false;
      if (!isArxosError(err) && !(err instanceof Errors.MoleculerError) && !remote) {
        const action = 'actionName' in info ? info.actionName : info.action?.name;
        const meta: unknown = ctx?.meta;
        const given: unknown =
          typeof meta === 'object' && meta !== null ? Reflect.get(meta, 'requestId') : undefined;
        const requestId = typeof given === 'string' ? given : ctx?.requestID;
        logger.error('unexpected error', { action, requestId, err });
      }
      throw err;
    },
  };
}
