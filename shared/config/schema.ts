/**
 * Every environment variable Arxos reads, with its type, default and meaning.
 * This table is the single source for parsing (config.ts), `.env.example` and README's table
 * (a test keeps both documents in step with it).
 */
export type VarType = 'string' | 'int' | 'bool' | 'url' | 'enum' | 'list';

export interface VarSpec {
  readonly type: VarType;
  readonly default?: string;
  readonly doc: string;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  /** never printed (logs, errors) */
  readonly secret?: boolean;
}

/** The services this code base has; `SERVICES` picks among them. */
export const SERVICE_NAMES = [
  'gateway',
  'users',
  'buildings',
  'devices',
  'projects',
  'events',
  'monitoring',
] as const;

export const VARS = {
  NODE_ENV: {
    type: 'enum',
    values: ['development', 'production', 'test'],
    default: 'development',
    doc: 'Runtime environment.',
  },
  LOG_LEVEL: {
    type: 'enum',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    default: 'info',
    doc: 'Lowest level written to the JSON log on stdout.',
  },
  SERVICES: {
    type: 'list',
    default: SERVICE_NAMES.join(','),
    values: SERVICE_NAMES,
    doc: 'Services this process runs (comma-separated). `npm start` gives each its own process.',
  },
  NODE_ID: { type: 'string', default: '', doc: 'Moleculer node id; empty means `<hostname>-<pid>`.' },
  NAMESPACE: {
    type: 'string',
    default: 'arxos',
    doc: 'Moleculer namespace: nodes only see nodes of the same namespace on the broker.',
  },
  PORT: { type: 'int', default: '3000', min: 1, max: 65535, doc: 'HTTP port of the gateway.' },
  OPS_PORT: {
    type: 'int',
    default: '9400',
    min: 0,
    max: 65535,
    doc: 'Small HTTP port of every process: `/health/live`, `/health/ready`, `/metrics` (0 = any free port). `npm start` gives its processes OPS_PORT, OPS_PORT+1, ...',
  },
  SHUTDOWN_DELAY_MS: {
    type: 'int',
    default: '5000',
    min: 0,
    max: 120000,
    doc: 'On SIGTERM, how long readiness fails before the process stops taking work (load balancers notice); in-flight work then drains. `npm start` uses 0.',
  },
  DATABASE_URL: {
    type: 'url',
    default: 'postgres://postgres@127.0.0.1:5432/arxos',
    doc: 'PostgreSQL (with PostGIS) connection URL.',
    secret: true,
  },
  DB_POOL_MAX: { type: 'int', default: '10', min: 1, max: 500, doc: 'Most connections in the pool.' },
  DB_POOL_MIN: { type: 'int', default: '0', min: 0, max: 500, doc: 'Connections kept open when idle.' },
  DB_POOL_ACQUIRE_MS: {
    type: 'int',
    default: '5000',
    min: 100,
    doc: 'How long a query waits for a free connection before failing as UNAVAILABLE.',
  },
  DB_POOL_IDLE_MS: {
    type: 'int',
    default: '10000',
    min: 100,
    doc: 'An idle connection above DB_POOL_MIN is closed after this long.',
  },
  DB_STATEMENT_TIMEOUT_MS: {
    type: 'int',
    default: '15000',
    min: 0,
    doc: 'PostgreSQL statement_timeout per connection (0 = none).',
  },
  DB_LOG_SQL: { type: 'bool', default: 'false', doc: 'Log every SQL statement at debug level.' },
  DB_TX_RETRIES: {
    type: 'int',
    default: '5',
    min: 0,
    max: 50,
    doc: 'How often a transaction is retried after a serialization failure or deadlock.',
  },
  REDIS_URL: { type: 'url', default: 'redis://127.0.0.1:6379', doc: 'Redis connection URL.', secret: true },
  REDIS_KEY_PREFIX: { type: 'string', default: 'arxos:', doc: 'Prefix of every Redis key Arxos writes.' },
  AMQP_URL: {
    type: 'url',
    default: 'amqp://guest:guest@127.0.0.1:5672',
    doc: 'RabbitMQ connection URL (transporter and domain events).',
    secret: true,
  },
  AMQP_PREFETCH: {
    type: 'int',
    default: '100',
    min: 1,
    max: 10000,
    doc: 'Requests a node takes from RabbitMQ at once. The transporter default (1) serialises every call: ~23 calls/s.',
  },
  AMQP_HEARTBEAT_S: {
    type: 'int',
    default: '15',
    min: 0,
    max: 600,
    doc: 'AMQP heartbeat: a dead broker connection is noticed within about twice this (0 = off).',
  },
  EVENTS_EXCHANGE: {
    type: 'string',
    default: 'arxos.events',
    doc: 'RabbitMQ topic exchange domain events are published to (routing key = event type).',
  },
  REQUEST_TIMEOUT_MS: {
    type: 'int',
    default: '10000',
    min: 100,
    doc: 'An RPC call with no answer after this long fails as UNAVAILABLE (503).',
  },
  CACHE_STRATEGY: {
    type: 'enum',
    values: ['redis', 'layered', 'memory', 'off'],
    default: 'redis',
    doc: '`redis`: one cache shared by every instance; `layered`: a short-lived in-process cache in front of Redis; `memory`: in-process only (one instance); `off`.',
  },
  CACHE_TTL_S: { type: 'int', default: '300', min: 1, doc: 'How long a cached read lives at most.' },
  CACHE_MEMORY_TTL_S: {
    type: 'int',
    default: '5',
    min: 1,
    doc: 'How long the in-process layer of the `layered` strategy keeps an entry.',
  },
  CACHE_MEMORY_MAX_ENTRIES: {
    type: 'int',
    default: '10000',
    min: 1,
    doc: 'Most entries the in-process cache holds (least recently used go first).',
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    type: 'int',
    default: '250',
    min: 10,
    doc: 'A Redis command with no answer after this long counts as a cache miss, so Redis down never stalls a read.',
  },
  JWT_SECRET: {
    type: 'string',
    default: '',
    doc: 'HMAC key (HS256) signing access tokens, at least 32 characters; the same on every node. Required when NODE_ENV=production; elsewhere a fixed development key is used, with a warning.',
    secret: true,
  },
  JWT_ISSUER: { type: 'string', default: 'arxos', doc: 'The `iss` of access tokens (checked).' },
  JWT_AUDIENCE: { type: 'string', default: 'arxos-api', doc: 'The `aud` of access tokens (checked).' },
  ACCESS_TOKEN_TTL_S: {
    type: 'int',
    default: '900',
    min: 30,
    max: 86400,
    doc: 'Access token lifetime. Logging out or being disabled stops refreshes at once; a disabled user is refused at once too.',
  },
  REFRESH_TOKEN_TTL_S: {
    type: 'int',
    default: '2592000',
    min: 60,
    doc: 'Refresh token lifetime (rotated on every use).',
  },
  LOGIN_MAX_FAILURES: {
    type: 'int',
    default: '5',
    min: 1,
    doc: 'Failed logins for one account within LOGIN_WINDOW_S before it is throttled (429).',
  },
  LOGIN_MAX_FAILURES_PER_IP: {
    type: 'int',
    default: '20',
    min: 1,
    doc: 'Failed logins from one client address within LOGIN_WINDOW_S before it is throttled (429).',
  },
  LOGIN_WINDOW_S: { type: 'int', default: '900', min: 1, doc: 'The window failed logins are counted in.' },
  RATE_LIMIT_PER_MINUTE: {
    type: 'int',
    default: '1200',
    min: 1,
    doc: 'Requests per minute one identity (user, or client address before login) may make; shared by every gateway through Redis.',
  },
  PASSWORD_MIN_LENGTH: { type: 'int', default: '12', min: 8, max: 128, doc: 'Shortest password accepted.' },
  ARXOS_ADMIN_EMAIL: {
    type: 'string',
    default: '',
    doc: 'On first start with no users, an admin is created with this email (and ARXOS_ADMIN_PASSWORD).',
  },
  ARXOS_ADMIN_PASSWORD: {
    type: 'string',
    default: '',
    doc: 'Password of that first admin (at least PASSWORD_MIN_LENGTH characters). Change it after the first login.',
    secret: true,
  },
  PGINSTALL: {
    type: 'enum',
    values: ['auto', 'never'],
    default: 'auto',
    doc: '`auto`: the start and test commands install PostGIS with apt-get where it is missing and they run as root on Debian; `never`: only say what to do.',
  },
} as const satisfies Record<string, VarSpec>;

export type VarName = keyof typeof VARS;
