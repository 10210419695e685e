/*
 * `npm run bench [-- --json out.json] [--duration 5] [--reps 3]`: the benchmark suite. Starts what it
 * needs in child processes (one process each side, as in production), seeds data, and prints each
 * figure next to a baseline measured in the same run. The machine is noisy: each figure is the
 * median of a few repetitions, and the ratios are what to compare between runs.
 *
 * P1  RPC over RabbitMQ, concurrency 1 and 50: raw amqplib request/reply echo (the ceiling) vs the
 *     Moleculer transporter as Arxos configures it (and, briefly, with Moleculer's defaults).
 * P2  GET /api/v1/buildings/{id} with a valid token through the gateway → RabbitMQ → buildings
 *     service, cache hit and cache miss, vs a bare Node http + pg server doing the same primary-key
 *     read (no authentication: the baseline is the bare read).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import amqp from 'amqplib';
import autocannon from 'autocannon';
import { ServiceBroker } from 'moleculer';
import { brokerOptions } from '../moleculer.config';
import { config, parseConfig, type Config } from '../shared/config';
import { createDatabase, migrateUp, withTransaction, defineModels } from '../shared/db';
import { createLogger } from '../shared/logging';
import { dropDatabase, ensureDatabase, ensurePostgis, checkServices } from '../scripts/environment';

interface Figure {
  name: string;
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  baseline?: string;
}

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const DURATION_S = Number(arg('duration', '5'));
const REPS = Number(arg('reps', '3'));
const JSON_OUT = args.includes('--json') ? arg('json', 'bench-results.json') : undefined;

const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const progress = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

const children: ChildProcess[] = [];
function spawnNode(file: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(path.join(__dirname, file), [], {
    env: { ...process.env, ...env },
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

/** Runs `call` from `concurrency` loops for DURATION_S; throughput and latency percentiles in ms. */
async function loadLoop(concurrency: number, call: () => Promise<unknown>, seconds = DURATION_S) {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await call();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / seconds,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
  };
}

async function repeat(
  name: string,
  concurrency: number,
  once: () => Promise<{ rps: number; p50: number; p99: number }>,
  reps = REPS,
): Promise<Figure> {
  const runs = [];
  for (let i = 0; i < reps; i += 1) {
    progress(`${name} c=${concurrency} run ${i + 1}/${reps}`);
    runs.push(await once());
  }
  return {
    name,
    concurrency,
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
  };
}

async function rawAmqpClient(url: string, queue: string) {
  const conn = await amqp.connect(url, { noDelay: true });
  const ch = await conn.createChannel();
  const pending = new Map<string, () => void>();
  await ch.consume(
    'amq.rabbitmq.reply-to',
    (msg) => {
      const id = msg ? String(msg.properties.correlationId) : '';
      pending.get(id)?.();
      pending.delete(id);
    },
    { noAck: true },
  );
  const payload = Buffer.from(JSON.stringify({ ping: 'x'.repeat(32) }));
  return {
    call: () =>
      new Promise<void>((resolve) => {
        const id = randomUUID();
        pending.set(id, resolve);
        ch.sendToQueue(queue, payload, { replyTo: 'amq.rabbitmq.reply-to', correlationId: id });
      }),
    close: () => conn.close(),
  };
}

async function http(url: string, connections: number, paths: string[], token?: string) {
  let i = 0;
  const result = await autocannon({
    url,
    connections,
    duration: DURATION_S,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    requests: [
      {
        method: 'GET',
        setupRequest: (req) => ({ ...req, path: paths[(i += 1) % paths.length] ?? '/' }),
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

async function main() {
  const base = config();
  const dbUrl = new URL(base.db.url);
  dbUrl.pathname = `/arxos_bench_${runId}`;
  const env: Record<string, string> = {
    DATABASE_URL: dbUrl.toString(),
    NAMESPACE: `bench-${runId}`,
    REDIS_KEY_PREFIX: `arxos:bench:${runId}:`,
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    ARXOS_ADMIN_EMAIL: `bench-${runId}@example.com`,
    ARXOS_ADMIN_PASSWORD: `bench password ${runId}`,
    // the limit is checked on every request (one Redis INCR), high enough not to refuse the load
    RATE_LIMIT_PER_MINUTE: '1000000000',
    // several platform processes on one machine: each its own free ops port, and no drain delay
    OPS_PORT: '0',
    SHUTDOWN_DELAY_MS: '0',
  };
  const cfg: Config = parseConfig({ ...process.env, ...env });
  const figures: Figure[] = [];

  progress('checking PostgreSQL, Redis, RabbitMQ and PostGIS');
  await checkServices(cfg);
  await ensurePostgis(cfg);
  await ensureDatabase(cfg.db.url);
  const logger = createLogger({ level: 'warn' });
  const db = createDatabase(cfg.db, logger, 'arxos-bench');
  try {
    await migrateUp(db.sequelize, cfg.db.url, logger);
    progress('seeding 1 000 buildings');
    const { Building } = defineModels(db.sequelize);
    const rows = await withTransaction(db.sequelize, (transaction) =>
      Building.bulkCreate(
        Array.from({ length: 1000 }, (_, i) => ({
          name: `Bench ${i}`,
          code: `BENCH-${i}`,
          status: 'active',
          location: { type: 'Point', coordinates: [13 + i / 1000, 52] },
        })),
        { transaction },
      ),
    );
    const ids = rows.map((r) => String(r.getDataValue('id')));

    // ---- P1 ----------------------------------------------------------------------------------
    const queue = `arxos-bench-echo-${runId}`;
    progress('P1: starting the raw amqplib echo server and the Moleculer echo node');
    await spawnNode('nodes/echo-amqp.ts', { ...env, ECHO_QUEUE: queue });
    await spawnNode('nodes/echo-moleculer.ts', env);
    const raw = await rawAmqpClient(cfg.amqp.url, queue);
    const client = new ServiceBroker({
      ...brokerOptions({ ...cfg, nodeID: `bench-client-${runId}` }, logger),
      logger: false,
    });
    await client.start();
    await client.waitForServices('echo', 15_000);
    const payload = { ping: 'x'.repeat(32) };
    for (const c of [1, 50]) {
      const ceiling = await repeat('P1 raw amqplib echo', c, () => loadLoop(c, raw.call));
      const mol = await repeat('P1 moleculer AMQP (Arxos config)', c, () =>
        loadLoop(c, () => client.call('echo.echo', payload)),
      );
      figures.push(ceiling, { ...mol, baseline: ceiling.name });
    }
    await client.stop();
    await raw.close();

    progress('P1: Moleculer AMQP with the transporter defaults (short run: it manages ~20 calls/s)');
    const defaultEnv = { ...env, NAMESPACE: `bench-default-${runId}`, BENCH_TRANSPORT: 'default' };
    await spawnNode('nodes/echo-moleculer.ts', defaultEnv);
    const defCfg = parseConfig({ ...process.env, ...defaultEnv });
    const defClient = new ServiceBroker({
      ...brokerOptions({ ...defCfg, nodeID: `bench-default-client-${runId}` }, logger),
      transporter: { type: 'AMQP', options: { url: cfg.amqp.url } },
      logger: false,
    });
    await defClient.start();
    await defClient.waitForServices('echo', 15_000);
    const rawRef = figures.find((f) => f.name === 'P1 raw amqplib echo' && f.concurrency === 50);
    const def = await repeat(
      'P1 moleculer AMQP (defaults)',
      50,
      () => loadLoop(50, () => defClient.call('echo.echo', payload), 3),
      1,
    );
    figures.push({ ...def, baseline: rawRef?.name });
    await defClient.stop();

    // ---- P2 ----------------------------------------------------------------------------------
    const port = (n: number) => String(41000 + (Number.parseInt(runId.slice(-3), 16) % 1000) * 4 + n);
    progress('P2: starting gateway + buildings (cache on), gateway + buildings (cache off), bare http + pg');
    const on = { ...env, PORT: port(0), CACHE_STRATEGY: 'redis' };
    const off = { ...env, PORT: port(1), CACHE_STRATEGY: 'off', NAMESPACE: `bench-nocache-${runId}` };
    await Promise.all([
      spawnNode('../scripts/run-service.ts', { ...on, SERVICES: 'gateway' }),
      spawnNode('../scripts/run-service.ts', { ...on, SERVICES: 'users' }),
      spawnNode('../scripts/run-service.ts', { ...off, SERVICES: 'users' }),
      spawnNode('../scripts/run-service.ts', { ...on, SERVICES: 'buildings' }),
      spawnNode('../scripts/run-service.ts', { ...off, SERVICES: 'gateway' }),
      spawnNode('../scripts/run-service.ts', { ...off, SERVICES: 'buildings' }),
      spawnNode('nodes/bare-http.ts', { ...env, PORT: port(2) }),
    ]);
    // the gateway learns of the buildings node through discovery: wait until a read answers
    const tokens: string[] = [];
    for (const p of [port(0), port(1)]) {
      let token = '';
      for (let i = 0; i < 100 && !token; i += 1) {
        const res = await fetch(`http://127.0.0.1:${p}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: env.ARXOS_ADMIN_EMAIL, password: env.ARXOS_ADMIN_PASSWORD }),
        }).catch(() => undefined);
        if (res?.status === 200) token = ((await res.json()) as { accessToken: string }).accessToken;
        else await new Promise((r) => setTimeout(r, 200));
      }
      for (let i = 0; i < 100; i += 1) {
        const res = await fetch(`http://127.0.0.1:${p}/api/v1/buildings/${ids[0]}`, {
          headers: { authorization: `Bearer ${token}` },
        }).catch(() => undefined);
        if (res?.status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      tokens.push(token);
    }
    const hot = ids.slice(0, 100).map((id) => `/api/v1/buildings/${id}`);
    const all = ids.map((id) => `/api/v1/buildings/${id}`);
    for (const path of hot) {
      await fetch(`http://127.0.0.1:${port(0)}${path}`, {
        headers: { authorization: `Bearer ${tokens[0]}` },
      }); // warm the cache
    }
    const conns = 20;
    const bare = await repeat('P2 bare http + pg (baseline)', conns, () =>
      http(`http://127.0.0.1:${port(2)}`, conns, all),
    );
    const hit = await repeat('P2 gateway → RabbitMQ → buildings, cache hit', conns, () =>
      http(`http://127.0.0.1:${port(0)}`, conns, hot, tokens[0]),
    );
    const miss = await repeat('P2 gateway → RabbitMQ → buildings, cache off (miss)', conns, () =>
      http(`http://127.0.0.1:${port(1)}`, conns, all, tokens[1]),
    );
    figures.push(bare, { ...hit, baseline: bare.name }, { ...miss, baseline: bare.name });
  } finally {
    for (const child of children) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    await db.stop();
    await dropDatabase(cfg.db.url).catch(() => undefined);
  }

  const rows = figures.map((f) => {
    const base = f.baseline
      ? (figures.find((b) => b.name === f.baseline && b.concurrency === f.concurrency) ??
        figures.find((b) => b.name === f.baseline))
      : undefined;
    return { ...f, ratio: base ? f.rps / base.rps : undefined };
  });
  console.log(
    `\nArxos benchmark (${REPS} runs of ${DURATION_S}s each, medians; ratio = throughput / baseline in this run)\n`,
  );
  console.log('| scenario | conc. | req/s | p50 ms | p99 ms | ratio vs baseline |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const ratio = r.ratio === undefined ? 'baseline' : `${r.ratio.toFixed(2)}x of ${r.baseline ?? ''}`;
    console.log(
      `| ${r.name} | ${r.concurrency} | ${Math.round(r.rps)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${ratio} |`,
    );
  }
  if (JSON_OUT) {
    fs.writeFileSync(
      JSON_OUT,
      JSON.stringify(
        { at: new Date().toISOString(), durationS: DURATION_S, reps: REPS, figures: rows },
        null,
        2,
      ),
    );
    console.log(`\nfigures written to ${JSON_OUT}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench] failed:', err);
    for (const child of children) child.kill('SIGTERM');
    process.exit(1);
  },
);
