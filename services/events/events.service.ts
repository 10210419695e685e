import type { Context, Service, ServiceSchema } from 'moleculer';
import { config } from '../../shared/config';
import { createDatabase, type Database } from '../../shared/db';
import { fieldError, validationFailed } from '../../shared/errors';
import { readEvents } from '../../shared/events';
import { isUuid } from '../../shared/data';
import { seesAllProjects, userOf, visibleEventsSql } from '../../shared/auth';

/**
 * The domain event log, read-only: `events.list` answers GET /api/v1/events and feeds the SSE stream.
 * Events are written by the shared write path of every service, never here.
 */

const databases = new WeakMap<Service, Database>();

interface ListParams {
  query?: Record<string, unknown>;
}

const ALLOWED = ['aggregateId', 'aggregateType', 'type', 'after', 'limit'];

function parse(query: Record<string, unknown>) {
  const unknown = Object.keys(query).filter((k) => !ALLOWED.includes(k));
  if (unknown.length > 0)
    throw validationFailed(unknown.map((field) => ({ field, message: 'is not a filter of the event log' })));
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw fieldError(name, 'may be given once');
    return v;
  };
  const after = one('after');
  const limit = one('limit');
  const aggregateId = one('aggregateId');
  const types =
    query.type === undefined ? [] : (Array.isArray(query.type) ? query.type : [query.type]).map(String);
  if (after !== undefined && !/^\d{1,15}$/.test(after))
    throw fieldError('after', 'must be a position (a whole number)');
  if (limit !== undefined && !(/^\d{1,4}$/.test(limit) && Number(limit) >= 1 && Number(limit) <= 1000)) {
    throw fieldError('limit', 'must be a whole number from 1 to 1000');
  }
  if (aggregateId !== undefined && !isUuid(aggregateId)) throw fieldError('aggregateId', 'must be a UUID');
  for (const t of types)
    if (!/^[a-z_]+\.[a-z_]+$/.test(t)) throw fieldError('type', `'${t}' is not an event type`);
  const aggregateType = one('aggregateType');
  if (aggregateType !== undefined && !/^[a-z_]+$/.test(aggregateType))
    throw fieldError('aggregateType', 'is not an aggregate type');
  return {
    after: after === undefined ? 0 : Number(after),
    limit: limit === undefined ? 100 : Number(limit),
    aggregateId,
    aggregateType,
    type: types.length ? types : undefined,
  };
}

const EventsService: ServiceSchema = {
  name: 'events',
  actions: {
    list: {
      params: { query: { type: 'object', optional: true } },
      async handler(this: Service, ctx: Context<ListParams>) {
        const q = parse(ctx.params.query ?? {});
        const database = databases.get(this);
        if (!database) throw new Error('events service not started');
        // project events only for those who may see the project (API.md "Auth")
        const user = userOf(ctx);
        const visible =
          user && !seesAllProjects(user.role)
            ? visibleEventsSql((v) => database.sequelize.escape(v), user.id)
            : undefined;
        const data = await readEvents(database.sequelize, { ...q, visible });
        const last = data[data.length - 1];
        return {
          data,
          page: {
            limit: q.limit,
            after: q.after,
            nextAfter: last ? last.position : q.after,
            hasMore: data.length === q.limit,
          },
        };
      },
    },
  },
  created(this: Service) {
    databases.set(this, createDatabase(config().db, this.logger, 'arxos-events'));
  },
  async started(this: Service) {
    const database = databases.get(this);
    await database?.start();
  },
  async stopped(this: Service) {
    await databases.get(this)?.stop();
  },
};

export default EventsService;
