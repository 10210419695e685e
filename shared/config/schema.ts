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

export const SERVICE_NAMES = ['gateway', 'buildings', 'devices', 'users', 'projects', 'monitoring'] as const;

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
  PGINSTALL: {
    type: 'enum',
    values: ['auto', 'never'],
    default: 'auto',
    doc: '`auto`: the start and test commands install PostGIS with apt-get where it is missing and they run as root on Debian; `never`: only say what to do.',
  },
} as const satisfies Record<string, VarSpec>;

export type VarName = keyof typeof VARS;
