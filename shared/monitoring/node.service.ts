import type { Service, ServiceSchema } from 'moleculer';
import { registerBrokerCheck, registerEventLoopCheck } from './checks';
import { processHealth } from './health';
import { exposition } from './metrics';

/** The per-node service the monitoring service asks: every node of the cluster runs it. */
export const NODE_SERVICE = '$ops';

const unregister = new WeakMap<Service, () => void>();

/**
 * `$ops.health` (this process's readiness report) and `$ops.metrics` (its Prometheus exposition) on
 * every node, added by the broker options like Moleculer's own `$node`, so a node needs no HTTP port
 * reachable from the monitoring service: it is asked over the broker, node by node.
 */
export const nodeService: ServiceSchema = {
  name: NODE_SERVICE,
  actions: {
    health: {
      handler() {
        return processHealth().ready();
      },
    },
    metrics: {
      async handler() {
        return (await exposition()).text;
      },
    },
  },
  created(this: Service) {
    registerEventLoopCheck();
    unregister.set(this, registerBrokerCheck(this.broker));
  },
  stopped(this: Service) {
    unregister.get(this)?.();
  },
};
