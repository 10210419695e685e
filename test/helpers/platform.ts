import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ServiceBroker } from 'moleculer';
import { brokerOptions } from '../../moleculer.config';
import { ArxosCacher, Cache } from '../../shared/cache';
import { config, type Config } from '../../shared/config';
import { createLogger } from '../../shared/logging';
import { SERVICES } from '../../services';
import { testDb, testLogger } from './db';
import { TEST_ADMIN } from './root-hooks';

/*
 * Real platform nodes inside the test process: each a ServiceBroker of its own, talking to the others
 * over the real RabbitMQ in this run's namespace, with its own Redis cache client.
 */

let nodeCount = 0;

export interface Node {
  broker: ServiceBroker;
  cache: Cache;
}

export async function startNode(
  services: (keyof typeof SERVICES)[],
  overrides: Partial<Config> = {},
  /** where the node's log lines go (a test that reads them), at debug level */
  logStream?: NodeJS.WritableStream,
): Promise<Node> {
  await testDb(); // the run's database exists and is migrated
  const cfg: Config = { ...config(), ...overrides, nodeID: `test-node-${process.pid}-${(nodeCount += 1)}` };
  const logger = logStream ? createLogger({ level: 'debug', stream: logStream }) : testLogger();
  const cache = new Cache(cfg, logger);
  const broker = new ServiceBroker(
    brokerOptions(logStream ? { ...cfg, logLevel: 'debug' } : cfg, logger, new ArxosCacher(cache)),
  );
  for (const name of services) {
    const schema = await SERVICES[name]();
    // the gateway listens on a free port in tests
    const settings = name === 'gateway' ? { port: 0, ip: '127.0.0.1' } : {};
    broker.createService({ name: schema.name, mixins: [schema], settings });
  }
  await broker.start();
  return { broker, cache };
}

export function gatewayUrl(node: Node): string {
  const gateway = node.broker.getLocalService('gateway');
  const server: unknown = gateway ? Reflect.get(gateway, 'server') : undefined;
  const address = (server as Server | undefined)?.address() as AddressInfo | null | undefined;
  if (!address) throw new Error('no gateway on this node');
  return `http://127.0.0.1:${address.port}/api/v1`;
}

/** Waits until `broker` sees `action` served by `count` nodes. */
export async function waitForAction(broker: ServiceBroker, action: string, count = 1, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const entry = broker.registry.getActionList({ onlyAvailable: true }).find((a) => a.name === action);
    if (entry && entry.count >= count) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${action} not served by ${count} node(s) within ${timeoutMs} ms`);
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

let defaultToken: string | undefined;

/** Requests made without an Authorization header of their own carry this token (undefined: none). */
export function useToken(token: string | undefined): void {
  defaultToken = token;
}

/** Logs in through the API and returns the answer's access token. */
export async function login(
  api: string,
  email = TEST_ADMIN.email,
  password = TEST_ADMIN.password,
): Promise<string> {
  const res = await http<{ accessToken: string }>(
    'POST',
    `${api}/auth/login`,
    { email, password },
    { authorization: '' },
  );
  if (res.status !== 200)
    throw new Error(`login of ${email} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

/** A JSON request as a client sends it. */
export async function http<T = Record<string, unknown>>(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult<T>> {
  const auth =
    'authorization' in headers ? headers.authorization : defaultToken ? `Bearer ${defaultToken}` : '';
  const { authorization: _given, ...rest } = headers;
  const res = await fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(auth ? { authorization: auth } : {}),
      ...rest,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : null) as T };
}
