import os from 'node:os';
import { SERVICE_NAMES, VARS, type VarName, type VarSpec } from './schema';

export type ServiceName = (typeof SERVICE_NAMES)[number];
export type LogLevel = (typeof VARS.LOG_LEVEL.values)[number];

export interface Config {
  env: 'development' | 'production' | 'test';
  logLevel: LogLevel;
  services: ServiceName[];
  nodeID: string;
  namespace: string;
  http: { port: number };
  ops: { port: number; shutdownDelayMs: number };
  db: {
    url: string;
    pool: { max: number; min: number; acquireMs: number; idleMs: number };
    statementTimeoutMs: number;
    logSql: boolean;
    txRetries: number;
  };
  redis: { url: string; keyPrefix: string; commandTimeoutMs: number };
  amqp: { url: string; prefetch: number; heartbeatS: number; eventsExchange: string };
  requestTimeoutMs: number;
  cache: {
    strategy: 'redis' | 'layered' | 'memory' | 'off';
    ttlS: number;
    memoryTtlS: number;
    memoryMaxEntries: number;
  };
  pgInstall: 'auto' | 'never';
  auth: {
    jwtSecret: string;
    issuer: string;
    audience: string;
    accessTtlS: number;
    refreshTtlS: number;
    loginMaxFailures: number;
    loginMaxFailuresPerIp: number;
    loginWindowS: number;
    rateLimitPerMinute: number;
    passwordMinLength: number;
    adminEmail: string;
    adminPassword: string;
    /** true when JWT_SECRET was not set and the development key is in use */
    devSecret: boolean;
  };
}

/** Used only outside production when JWT_SECRET is unset, so `npm start` works on a fresh machine. */
const DEV_JWT_SECRET = 'arxos-development-only-secret-do-not-use-in-production';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Parses and validates the environment into a Config; every bad variable is named in one ConfigError. */
export function parseConfig(env: Env): Config {
  const problems: string[] = [];

  const raw = (name: VarName): string => {
    const spec: VarSpec = VARS[name];
    const value = env[name];
    return value === undefined || value === '' ? (spec.default ?? '') : value.trim();
  };
  const fail = <T>(name: VarName, why: string, fallback: T): T => {
    const spec: VarSpec = VARS[name];
    const shown = spec.secret ? '(hidden)' : JSON.stringify(env[name]);
    problems.push(`${name}=${shown}: ${why}`);
    return fallback;
  };
  const str = (name: VarName): string => raw(name);
  const int = (name: VarName): number => {
    const spec: VarSpec = VARS[name];
    const text = raw(name);
    if (!/^-?\d+$/.test(text)) return fail(name, 'must be a whole number', 0);
    const n = Number(text);
    if (spec.min !== undefined && n < spec.min) return fail(name, `must be at least ${spec.min}`, n);
    if (spec.max !== undefined && n > spec.max) return fail(name, `must be at most ${spec.max}`, n);
    return n;
  };
  const bool = (name: VarName): boolean => {
    const text = raw(name).toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(text)) return true;
    if (['false', '0', 'no', 'off'].includes(text)) return false;
    return fail(name, 'must be true or false', false);
  };
  const oneOf = <T extends string>(name: VarName, values: readonly T[]): T => {
    const text = raw(name);
    const found = values.find((v) => v === text);
    return found ?? fail(name, `must be one of ${values.join(', ')}`, values[0] as T);
  };
  const url = (name: VarName, protocols: string[]): string => {
    const text = raw(name);
    try {
      const parsed = new URL(text);
      if (!protocols.includes(parsed.protocol)) {
        return fail(name, `must be a ${protocols.join(' or ')}// URL`, text);
      }
      return text;
    } catch {
      return fail(name, 'must be a URL', text);
    }
  };
  const list = <T extends string>(name: VarName, values: readonly T[]): T[] => {
    const items = raw(name)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = items.filter((i) => !values.some((v) => v === i));
    if (unknown.length > 0)
      return fail(name, `unknown ${unknown.join(', ')} (known: ${values.join(', ')})`, []);
    if (items.length === 0) return fail(name, 'must name at least one', []);
    return values.filter((v) => items.includes(v));
  };

  const config: Config = {
    env: oneOf('NODE_ENV', VARS.NODE_ENV.values),
    logLevel: oneOf('LOG_LEVEL', VARS.LOG_LEVEL.values),
    services: list('SERVICES', SERVICE_NAMES),
    nodeID: str('NODE_ID') || `${os.hostname()}-${process.pid}`,
    namespace: str('NAMESPACE'),
    http: { port: int('PORT') },
    ops: { port: int('OPS_PORT'), shutdownDelayMs: int('SHUTDOWN_DELAY_MS') },
    db: {
      url: url('DATABASE_URL', ['postgres:', 'postgresql:']),
      pool: {
        max: int('DB_POOL_MAX'),
        min: int('DB_POOL_MIN'),
        acquireMs: int('DB_POOL_ACQUIRE_MS'),
        idleMs: int('DB_POOL_IDLE_MS'),
      },
      statementTimeoutMs: int('DB_STATEMENT_TIMEOUT_MS'),
      logSql: bool('DB_LOG_SQL'),
      txRetries: int('DB_TX_RETRIES'),
    },
    redis: {
      url: url('REDIS_URL', ['redis:', 'rediss:']),
      keyPrefix: str('REDIS_KEY_PREFIX'),
      commandTimeoutMs: int('REDIS_COMMAND_TIMEOUT_MS'),
    },
    amqp: {
      url: url('AMQP_URL', ['amqp:', 'amqps:']),
      prefetch: int('AMQP_PREFETCH'),
      heartbeatS: int('AMQP_HEARTBEAT_S'),
      eventsExchange: str('EVENTS_EXCHANGE'),
    },
    requestTimeoutMs: int('REQUEST_TIMEOUT_MS'),
    cache: {
      strategy: oneOf('CACHE_STRATEGY', VARS.CACHE_STRATEGY.values),
      ttlS: int('CACHE_TTL_S'),
      memoryTtlS: int('CACHE_MEMORY_TTL_S'),
      memoryMaxEntries: int('CACHE_MEMORY_MAX_ENTRIES'),
    },
    pgInstall: oneOf('PGINSTALL', VARS.PGINSTALL.values),
    auth: {
      jwtSecret: str('JWT_SECRET'),
      issuer: str('JWT_ISSUER'),
      audience: str('JWT_AUDIENCE'),
      accessTtlS: int('ACCESS_TOKEN_TTL_S'),
      refreshTtlS: int('REFRESH_TOKEN_TTL_S'),
      loginMaxFailures: int('LOGIN_MAX_FAILURES'),
      loginMaxFailuresPerIp: int('LOGIN_MAX_FAILURES_PER_IP'),
      loginWindowS: int('LOGIN_WINDOW_S'),
      rateLimitPerMinute: int('RATE_LIMIT_PER_MINUTE'),
      passwordMinLength: int('PASSWORD_MIN_LENGTH'),
      adminEmail: str('ARXOS_ADMIN_EMAIL'),
      adminPassword: raw('ARXOS_ADMIN_PASSWORD'),
      devSecret: false,
    },
  };
  if (config.auth.jwtSecret === '') {
    if (config.env === 'production')
      problems.push('JWT_SECRET: must be set in production (32 characters or more)');
    config.auth.jwtSecret = DEV_JWT_SECRET;
    config.auth.devSecret = true;
  } else if (config.auth.jwtSecret.length < 32) {
    problems.push('JWT_SECRET=(hidden): must be at least 32 characters');
  }
  if (config.auth.adminEmail !== '' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(config.auth.adminEmail)) {
    problems.push(`ARXOS_ADMIN_EMAIL=${JSON.stringify(config.auth.adminEmail)}: must be an email address`);
  }
  if (config.db.pool.min > config.db.pool.max) {
    problems.push(`DB_POOL_MIN=${config.db.pool.min}: must not exceed DB_POOL_MAX=${config.db.pool.max}`);
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(config.namespace)) {
    problems.push(`NAMESPACE=${JSON.stringify(config.namespace)}: letters, digits, '.', '_' and '-' only`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** `amqp://host?heartbeat=15`: amqplib takes the heartbeat from the URL. */
export function amqpUrl(cfg: Config['amqp']): string {
  const url = new URL(cfg.url);
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(cfg.heartbeatS));
  return url.toString();
}
