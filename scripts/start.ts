/*
 * `npm start`: prepares the machine (services answer, PostGIS, database, migrations), then runs every
 * service as its own process over RabbitMQ, as in production, with their JSON logs shown as readable
 * lines prefixed by the service. Ctrl-C stops them all cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { config, ConfigError } from '../shared/config';
import { prepareEnvironment } from './prepare-env';
import { EnvironmentError, messageOf, say } from './environment';

const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[31m'];
const RESET = '\x1b[0m';
const tty = process.stdout.isTTY;

function pretty(name: string, color: string, line: string): string {
  const tag = tty ? `${color}[${name}]${RESET}` : `[${name}]`;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const { timestamp, level, message, service: _s, nodeID: _n, module: _m, ...rest } = entry;
    const time = typeof timestamp === 'string' ? timestamp.slice(11, 23) : '';
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `${time} ${String(level).padEnd(5)} ${tag} ${String(message)}${extra}`;
  } catch {
    return `${tag} ${line}`;
  }
}

async function main() {
  const cfg = config();
  await prepareEnvironment();
  const entry = path.join(__dirname, 'run-service.ts');
  const children = new Map<string, ChildProcess>();
  let stopping = false;

  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping every service...');
    for (const child of children.values()) child.kill('SIGTERM');
    const force = setTimeout(() => {
      for (const child of children.values()) child.kill('SIGKILL');
    }, 15_000);
    force.unref();
    process.exitCode = code;
  };

  cfg.services.forEach((name, i) => {
    const color = COLORS[i % COLORS.length] ?? '';
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', entry], {
      env: {
        ...process.env,
        SERVICES: name,
        // each process its own ops port (health, metrics): OPS_PORT, OPS_PORT+1, ... (0: any free one)
        OPS_PORT: String(cfg.ops.port === 0 ? 0 : cfg.ops.port + i),
        // no load balancer to wait for on a developer's machine: drain and stop at once
        SHUTDOWN_DELAY_MS: process.env.SHUTDOWN_DELAY_MS ?? '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(name, child);
    for (const stream of [child.stdout, child.stderr]) {
      readline
        .createInterface({ input: stream })
        .on('line', (line) => console.log(pretty(name, color, line)));
    }
    child.on('exit', (code, signal) => {
      children.delete(name);
      if (!stopping) {
        say(`${name} exited (${signal ?? `code ${code}`}); stopping the platform`);
        stopAll(1);
      }
      if (children.size === 0) say('all services stopped');
    });
  });
  say(
    `started ${cfg.services.join(', ')}; the API is on http://localhost:${cfg.http.port}/api/v1 (Ctrl-C stops)`,
  );
  process.on('SIGINT', () => stopAll(0));
  process.on('SIGTERM', () => stopAll(0));
}

main().catch((err: unknown) => {
  if (err instanceof EnvironmentError || err instanceof ConfigError) console.error(`[arxos] ${err.message}`);
  else console.error('[arxos] start failed:', messageOf(err));
  process.exit(1);
});
