/* P1's Moleculer side: an echo action on a broker with the platform's transporter options (or the defaults). */
import { ServiceBroker, type Context } from 'moleculer';
import { brokerOptions } from '../../moleculer.config';
import { config } from '../../shared/config';
import { createLogger } from '../../shared/logging';

async function main() {
  const cfg = config();
  const options = brokerOptions(cfg, createLogger({ level: 'warn' }));
  const broker = new ServiceBroker(
    process.env.BENCH_TRANSPORT === 'default'
      ? { ...options, transporter: { type: 'AMQP', options: { url: cfg.amqp.url } } }
      : options,
  );
  broker.createService({
    name: 'echo',
    actions: { echo: (ctx: Context<Record<string, unknown>>) => ctx.params },
  });
  await broker.start();
  process.send?.('ready');
  process.on('SIGTERM', () => void broker.stop().finally(() => process.exit(0)));
}
void main();
