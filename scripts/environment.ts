import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import amqp from 'amqplib';
import Redis from 'ioredis';
import { Client } from 'pg';
import type { Config } from '../shared/config';

/*
 * Checks of the machine the platform runs on, shared by the start and test commands: each dependency
 * answers (or we say which and how to start it), PostGIS is installed (or we install it where we may,
 * or say how), the database exists with its extensions.
 */

export const say = (msg: string) => console.log(`[arxos] ${msg}`);

export class EnvironmentError extends Error {}

export const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

const START_HINT = {
  postgres: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  redis: 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
  rabbitmq: 'rabbitmq-server -detached',
};

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);

const where = (url: string) => {
  const u = new URL(url);
  return `${u.hostname}:${u.port}`;
};
const isLocal = (url: string) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(new URL(url).hostname);

/** The server's maintenance database, to create or drop others from. */
export function adminUrl(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  u.pathname = '/postgres';
  return u.toString();
}

export function databaseName(databaseUrl: string): string {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name))
    throw new EnvironmentError(`DATABASE_URL: database name '${name}' must be letters, digits and _`);
  return name;
}

async function checkPostgres(cfg: Config) {
  const client = new Client({ connectionString: adminUrl(cfg.db.url), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new EnvironmentError(
      `PostgreSQL does not answer at ${where(cfg.db.url)} (${messageOf(err)}).\n` +
        `  Start it with: ${START_HINT.postgres}\n  or set DATABASE_URL to a server that runs.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRedis(cfg: Config) {
  const redis = new Redis(cfg.redis.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3000,
  });
  redis.on('error', () => undefined); // reported below through the failed connect
  try {
    await withTimeout(redis.connect(), 4000, 'connect');
    await withTimeout(redis.ping(), 2000, 'PING');
  } catch (err) {
    throw new EnvironmentError(
      `Redis does not answer at ${where(cfg.redis.url)} (${messageOf(err)}).\n` +
        `  Start it with: ${START_HINT.redis}\n  or set REDIS_URL to a server that runs.`,
    );
  } finally {
    redis.disconnect();
  }
}

async function checkRabbit(cfg: Config) {
  try {
    const conn = await withTimeout(amqp.connect(cfg.amqp.url, { timeout: 3000 }), 5000, 'connect');
    await conn.close();
  } catch (err) {
    throw new EnvironmentError(
      `RabbitMQ does not answer at ${where(cfg.amqp.url)} (${messageOf(err)}).\n` +
        `  Start it with: ${START_HINT.rabbitmq}\n  or set AMQP_URL to a server that runs.`,
    );
  }
}

/** Checks all three at once and reports every one that does not answer. */
export async function checkServices(cfg: Config): Promise<void> {
  const results = await Promise.allSettled([checkPostgres(cfg), checkRedis(cfg), checkRabbit(cfg)]);
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [messageOf(r.reason)] : []));
  if (failed.length > 0) throw new EnvironmentError(failed.join('\n'));
  say(
    `PostgreSQL ${where(cfg.db.url)}, Redis ${where(cfg.redis.url)} and RabbitMQ ${where(cfg.amqp.url)} answer`,
  );
}

async function postgisAvailable(client: Client): Promise<boolean> {
  const r = await client.query("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'");
  return (r.rowCount ?? 0) > 0;
}

/** Installs Debian's PostGIS package for the running server's major version, where that is possible. */
export async function ensurePostgis(cfg: Config): Promise<void> {
  const client = new Client({ connectionString: adminUrl(cfg.db.url) });
  await client.connect();
  try {
    if (await postgisAvailable(client)) return;
    const r = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    const major = Math.floor(Number(r.rows[0]?.v ?? 0) / 10000);
    const pkg = `postgresql-${major}-postgis-3`;
    const canInstall =
      cfg.pgInstall === 'auto' &&
      isLocal(cfg.db.url) &&
      process.getuid?.() === 0 &&
      fs.existsSync('/etc/debian_version') &&
      fs.existsSync('/usr/bin/apt-get');
    if (!canInstall) {
      throw new EnvironmentError(
        `PostGIS is not installed on the PostgreSQL server at ${where(cfg.db.url)}.\n` +
          `  On Debian/Ubuntu, as root: apt-get update && apt-get install -y ${pkg}\n` +
          `  Elsewhere: install PostGIS 3 for PostgreSQL ${major} (https://postgis.net/documentation/getting_started/).` +
          (cfg.pgInstall === 'never' ? '\n  (PGINSTALL=never: not installing it myself)' : ''),
      );
    }
    say(`PostGIS is missing: installing ${pkg} with apt-get (this takes a minute)...`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', pkg], {
      stdio: 'inherit',
      env,
    });
    if (!(await postgisAvailable(client)))
      throw new EnvironmentError(`${pkg} installed, but PostgreSQL still lacks postgis`);
    say(`${pkg} installed`);
  } finally {
    await client.end();
  }
}

/**
 * promtool (Debian's `prometheus` package) checks deploy/prometheus in the test suite. Installed like
 * PostGIS: where it is missing, PGINSTALL allows it and we are root on Debian; otherwise we say how.
 */
export function ensurePromtool(cfg: Config): void {
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => dir && fs.existsSync(`${dir}/promtool`));
  if (onPath) return;
  const canInstall =
    cfg.pgInstall === 'auto' &&
    process.getuid?.() === 0 &&
    fs.existsSync('/etc/debian_version') &&
    fs.existsSync('/usr/bin/apt-get');
  if (!canInstall) {
    say(
      'promtool is missing: the Prometheus tests will fail. As root on Debian: apt-get install -y prometheus',
    );
    return;
  }
  say('promtool is missing: installing Debian package prometheus with apt-get...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'prometheus'], {
    stdio: 'inherit',
    env,
  });
}

/** Creates the database of `url` where it is missing, with the extensions the schema needs. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = new Client({ connectionString: adminUrl(url) });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if ((exists.rowCount ?? 0) === 0) {
      await admin.query(`CREATE DATABASE "${name}"`);
      say(`database ${name} created`);
    }
  } finally {
    await admin.end();
  }
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS postgis');
    await db.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  } finally {
    await db.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const admin = new Client({ connectionString: adminUrl(url) });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
