import type { Context, Service, ServiceSchema } from 'moleculer';
import { amqpUrl, config } from '../config';
import { createDatabase, defineModels, entityEventTypes, type Database, type Models } from '../db';
import { MANAGERS, userOf, type Role } from '../auth';
import { fieldError, forbidden } from '../errors';
import { processHealth } from '../monitoring';
import { metaFromContext } from '../context';
import { ArxosCacher, type Invalidation } from '../cache';
import type { Transaction } from '../db';
import type { DomainEvent } from '../events';
import { idempotent, MessageQueue, OutboxRelay } from '../messaging';
import { createDataAccess, type DataAccess } from './crud';
import { resourceSchemas } from './json-schema';
import { Batcher } from './batcher';
import type { QueryInput } from './query';
import type { Resource } from './resource';

type WriteAction = 'create' | 'update' | 'remove' | 'restore';

export interface ConsumerContext {
  transaction: Transaction;
  models: Models;
  data: DataAccess;
}

/** A domain-event consumer of the service: durable queue, retries, dead letters, effect at most once. */
export interface ConsumerSpec {
  /** stable name: the queue is `<namespace>.<service>.<name>` and the inbox key is `<service>.<name>` */
  name: string;
  /** routing patterns (event types), e.g. `room.deleted` or `building.*` */
  patterns: string[];
  handle: (event: DomainEvent, ctx: ConsumerContext) => Promise<void>;
  maxAttempts?: number;
}

export interface DataServiceOptions {
  /** the resources this service owns, built on the shared models */
  resources: (models: Models) => Record<string, Resource>;
  /**
   * Which resources get CRUD actions, under which action-name prefix ('' or 'floors.'), and who may
   * write them (API.md "Auth"; default managers and admins). Reads are open to every signed-in role.
   */
  expose: { resource: string; prefix: string; roles?: Partial<Record<WriteAction, readonly Role[]>> }[];
  consumers?: ConsumerSpec[];
}

interface State {
  database: Database;
  models: Models;
  data: DataAccess;
  /** drops the cached `get` of these rows (per registry key), and their resources' lists unless `lists` is false */
  invalidate: (changed: Map<string, Iterable<string>>, lists?: boolean) => Promise<void>;
  mq: MessageQueue;
  relay: OutboxRelay;
}

const states = new WeakMap<Service, State>();
/** the service's health checks, removed when it stops */
const unregister = new WeakMap<Service, (() => void)[]>();

/** The cache key of one entity as its `get` action caches it (Moleculer's `<action>:<id>` for `keys: ['id']`). */
export const entityCacheKey = (getAction: string, id: string) => `${getAction}:${id}`;

/** The data access of a service built with dataService(); for its own custom actions. */
export function dataOf(service: Service): State {
  const state = states.get(service);
  if (!state) throw new Error(`${service.name} was not built with dataService()`);
  return state;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface IdParams {
  id: string;
}
interface ListParams {
  query?: QueryInput;
  scope?: Record<string, string>;
}
interface CreateParams {
  data: Record<string, unknown>;
}
interface UpdateParams extends IdParams {
  data: Record<string, unknown>;
  expectedVersion?: number;
}
interface RemoveParams extends IdParams {
  cascade?: boolean;
  expectedVersion?: number;
}
interface HistoryParams extends IdParams {
  query?: QueryInput;
}

/**
 * The one CRUD mechanism as a Moleculer mixin: given the resources a service owns, it gives each
 * the actions create, get, list, update, remove, restore and history over shared/data, and owns the
 * service's database connection (start/stop with the service).
 */
export function dataService(options: DataServiceOptions): Partial<ServiceSchema> {
  const actions: NonNullable<ServiceSchema['actions']> = {};
  for (const { resource, prefix, roles: declared } of options.expose) {
    const data = (svc: Service) => dataOf(svc).data;
    /**
     * Cached reads are shared by every caller, so a resource with object-level visibility is cached
     * only for callers who see all of it (managers of projects); the others read the database.
     */
    function sharedView(this: Service, ctx: Context) {
      const r = data(this).resource(resource);
      const user = userOf(ctx);
      return !r.visibility || !user || r.visibility({ id: user.id, role: user.role }) === undefined;
    }
    // enforced by rolesMiddleware wherever the action runs, and by the gateway before it calls
    const roles = (action: WriteAction) => declared?.[action] ?? MANAGERS;
    actions[`${prefix}create`] = {
      roles: roles('create'),
      params: { data: { type: 'object' } },
      handler(this: Service, ctx: Context<CreateParams>) {
        return data(this).create(resource, ctx.params.data);
      },
    };
    actions[`${prefix}get`] = {
      params: { id: { type: 'string' } },
      cache: { keys: ['id'], enabled: sharedView },
      handler(this: Service, ctx: Context<IdParams>) {
        return data(this).get(resource, ctx.params.id);
      },
    };
    actions[`${prefix}list`] = {
      params: { query: { type: 'object', optional: true }, scope: { type: 'object', optional: true } },
      cache: {
        keys: ['query', 'scope'],
        enabled(this: Service, ctx: Context<ListParams>) {
          if (!sharedView.call(this, ctx)) return false;
          const volatile = data(this).resource(resource).volatile ?? [];
          const query = ctx.params.query ?? {};
          const sort = typeof query.sort === 'string' ? query.sort : '';
          return !volatile.some(
            (f) => sort.includes(f) || Object.keys(query).some((k) => k.split('__')[0] === f),
          );
        },
      },
      handler(this: Service, ctx: Context<ListParams>) {
        const scope = ctx.params.scope ?? {};
        const deleted = ctx.params.query?.deleted;
        const user = userOf(ctx);
        if (deleted !== undefined && user && !MANAGERS.includes(user.role)) {
          throw forbidden('only managers and admins may list deleted entries');
        }
        const r = data(this).resource(resource);
        for (const [key, value] of Object.entries(scope)) {
          if (!r.fields[key]?.filter || typeof value !== 'string')
            throw fieldError(key, 'cannot scope a list');
        }
        return data(this).list(resource, ctx.params.query ?? {}, scope);
      },
    };
    actions[`${prefix}update`] = {
      roles: roles('update'),
      params: {
        id: { type: 'string' },
        data: { type: 'object' },
        expectedVersion: { type: 'number', integer: true, optional: true },
      },
      handler(this: Service, ctx: Context<UpdateParams>) {
        return data(this).update(resource, ctx.params.id, ctx.params.data, {
          expectedVersion: ctx.params.expectedVersion,
        });
      },
    };
    actions[`${prefix}remove`] = {
      roles: roles('remove'),
      params: {
        id: { type: 'string' },
        cascade: { type: 'boolean', optional: true },
        expectedVersion: { type: 'number', integer: true, optional: true },
      },
      handler(this: Service, ctx: Context<RemoveParams>) {
        const { id, cascade, expectedVersion } = ctx.params;
        return data(this).remove(resource, id, { cascade, expectedVersion });
      },
    };
    actions[`${prefix}restore`] = {
      roles: roles('restore'),
      params: { id: { type: 'string' } },
      handler(this: Service, ctx: Context<IdParams>) {
        return data(this).restore(resource, ctx.params.id);
      },
    };
    // other services' reference checks: which of these ids are live (one query for the batch)
    actions[`${prefix}lookup`] = {
      params: {
        ids: { type: 'array', items: 'string', max: 10_000 },
        fields: { type: 'array', items: 'string', optional: true },
      },
      handler(this: Service, ctx: Context<{ ids: string[]; fields?: string[] }>) {
        return data(this).lookup(resource, ctx.params.ids, ctx.params.fields);
      },
    };
    // the resource's JSON Schemas, for the gateway's OpenAPI document (no data, so no roles)
    actions[`${prefix}describe`] = {
      handler(this: Service) {
        return resourceSchemas(data(this).resource(resource));
      },
    };
    actions[`${prefix}history`] = {
      params: { id: { type: 'string' }, query: { type: 'object', optional: true } },
      handler(this: Service, ctx: Context<HistoryParams>) {
        const query = isRecord(ctx.params.query) ? ctx.params.query : {};
        return data(this).history(resource, ctx.params.id, query);
      },
    };
  }

  /*
   * Cached reads are keyed `<service>.<prefix>get:<id>` and `<service>.<prefix>list:<hash>` (Moleculer's
   * key scheme). After a write commits, the writer drops exactly the written rows' `get` entries and
   * their resources' lists at once (read-your-writes); every instance does the same again when the
   * domain events of that write arrive, which reaches in-process cache layers and heals an
   * invalidation that Redis missed.
   */
  const prefixOf = new Map(options.expose.map((e) => [e.resource, e.prefix]));
  function invalidation(
    service: Service,
    changed: Map<string, Iterable<string>>,
    lists: boolean,
  ): Invalidation {
    const inv: Invalidation = { keys: [], patterns: [] };
    for (const [resource, ids] of changed) {
      const prefix = prefixOf.get(resource);
      if (prefix === undefined) continue;
      for (const id of ids) inv.keys.push(entityCacheKey(`${service.name}.${prefix}get`, id));
      if (lists) inv.patterns.push(`${service.name}.${prefix}list:*`);
    }
    return inv;
  }

  return {
    actions,
    created(this: Service) {
      const cfg = config();
      const database = createDatabase(cfg.db, this.logger, `arxos-${this.name}`);
      const models = defineModels(database.sequelize);
      const resources = options.resources(models);
      const data = createDataAccess({
        sequelize: database.sequelize,
        resources,
        txRetries: cfg.db.txRetries,
        onCommitted: (changed) => invalidate(changed),
        call: (action, params) => this.broker.call(action, params, { meta: metaFromContext() }),
      });
      const invalidate = async (changed: Map<string, Iterable<string>>, lists = true) => {
        const cacher = this.broker.cacher;
        if (cacher instanceof ArxosCacher) await cacher.invalidate(invalidation(this, changed, lists));
      };
      const mq = new MessageQueue(amqpUrl(cfg.amqp), this.logger);
      const relay = new OutboxRelay(database.sequelize, mq, this.logger, {
        databaseUrl: cfg.db.url,
        exchange: cfg.amqp.eventsExchange,
      });
      states.set(this, { database, models, data, mq, relay, invalidate });
    },
    async started(this: Service) {
      const cfg = config();
      const { database, models, data, mq, relay } = dataOf(this);
      await database.start();
      await mq.start();
      await mq.assertExchange(cfg.amqp.eventsExchange);
      await relay.start();
      const health = { componentId: this.name };
      unregister.set(this, [
        processHealth().register(
          'rabbitmq:channel',
          () => (mq.connected ? { status: 'pass' } : { status: 'fail', output: 'no channel to RabbitMQ' }),
          health,
        ),
        processHealth().register(
          'outbox:backlogAge',
          async () => {
            const s = await relay.stats();
            return {
              status: s.oldestAgeS > 60 ? 'warn' : 'pass',
              observedValue: Math.round(s.oldestAgeS),
              observedUnit: 's',
              output: `${s.backlog} events waiting`,
            };
          },
          { ...health, critical: false },
        ),
      ]);

      // every instance: its own queue for the events of what it caches, invalidated a batch at a time
      const batcher = new Batcher((batch) => dataOf(this).invalidate(batch));
      // `<entity>.*` takes named writes too (device.status_changed); some entities name their own events
      const eventTypes = [...prefixOf.keys()].flatMap((r) => [
        `${data.resource(r).name}.*`,
        ...entityEventTypes(data.resource(r).model),
      ]);
      await mq.subscribe(
        {
          queue: `${cfg.namespace}.cache.${this.name}.${this.broker.nodeID}`,
          exchange: cfg.amqp.eventsExchange,
          patterns: [...new Set(eventTypes)],
          exclusive: true,
          prefetch: 500,
        },
        async (delivery) => {
          const event = JSON.parse(delivery.content.toString('utf8')) as DomainEvent;
          const resource = [...prefixOf.keys()].find((r) => data.resource(r).name === event.aggregateType);
          if (resource) await batcher.add(resource, event.aggregateId);
        },
      );

      // the service's own consumers: one durable queue each, shared by its instances
      for (const consumer of options.consumers ?? []) {
        await mq.subscribe(
          {
            queue: `${cfg.namespace}.${this.name}.${consumer.name}`,
            exchange: cfg.amqp.eventsExchange,
            patterns: consumer.patterns,
            maxAttempts: consumer.maxAttempts ?? 5,
            retryDelayMs: 1000,
          },
          idempotent(database.sequelize, `${this.name}.${consumer.name}`, (event, transaction) =>
            consumer.handle(event, { transaction, models, data }),
          ),
        );
      }
    },
    async stopped(this: Service) {
      for (const fn of unregister.get(this) ?? []) fn();
      const { database, mq, relay } = dataOf(this);
      await relay.stop();
      await mq.stop();
      await database.stop();
    },
  };
}
