/* The ceiling for P1: a raw amqplib request/reply echo server (one process, like a service node). */
import amqp from 'amqplib';

const url = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const queue = process.env.ECHO_QUEUE ?? 'arxos-bench-echo';

async function main() {
  const conn = await amqp.connect(url, { noDelay: true });
  const ch = await conn.createChannel();
  await ch.assertQueue(queue, { durable: false, autoDelete: true });
  await ch.prefetch(100);
  await ch.consume(queue, (msg) => {
    if (!msg) return;
    ch.sendToQueue(String(msg.properties.replyTo), msg.content, {
      correlationId: String(msg.properties.correlationId),
    });
    ch.ack(msg);
  });
  process.send?.('ready');
  process.on('SIGTERM', () => void conn.close().finally(() => process.exit(0)));
}
void main();
