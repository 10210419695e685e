import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, type Context, type Service, type ServiceSchema } from 'moleculer';
import ApiGateway from 'moleculer-web';
import { config } from '../../shared/config';
import { HEALTH_CONTENT_TYPE, httpStatusOf, processHealth, type HealthReport } from '../../shared/monitoring';
import { toProblem } from './problem';
import { streamEvents } from './sse';
import { aliasesFor, etagOf, shapeParams, type HttpParams, type RestAlias, type RestResource } from './rest';

export const API_BASE = '/api/v1';

const RESOURCES: RestResource[] = (() => {
  const rooms: RestResource = { path: '/rooms', actions: 'buildings.rooms.' };
  const floors: RestResource = {
    path: '/floors',
    actions: 'buildings.floors.',
    children: [{ path: '/rooms', resource: rooms, scopeField: 'floorId' }],
  };
  const buildings: RestResource = {
    path: '/buildings',
    actions: 'buildings.',
    children: [{ path: '/floors', resource: floors, scopeField: 'buildingId' }],
  };
  const devices: RestResource = { path: '/devices', actions: 'devices.' };
  return [buildings, floors, rooms, devices];
})();

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface GatewayRequest extends IncomingMessage {
  $requestId?: string;
  $params?: HttpParams;
  $alias?: RestAlias;
}

function sendProblem(this: Service, req: GatewayRequest, res: ServerResponse, err: unknown) {
  const requestId = req.$requestId ?? randomUUID();
  const { problem, headers, internal } = toProblem(err, requestId);
  if (internal) this.logger.error('request failed', { requestId, url: req.url, err });
  if (res.headersSent) {
    res.end();
    return;
  }
  res.setHeader('X-Request-ID', requestId);
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.statusCode = problem.status;
  res.end(JSON.stringify(problem));
}

/** Every request: its id (kept if sane, else new) in and out; JSON bodies only. */
function requestBasics(req: GatewayRequest, res: ServerResponse, next: (err?: unknown) => void) {
  const given = req.headers['x-request-id'];
  req.$requestId = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
  res.setHeader('X-Request-ID', req.$requestId);
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  const type = req.headers['content-type'] ?? '';
  if (
    hasBody &&
    ['POST', 'PATCH', 'PUT'].includes(req.method ?? '') &&
    !/^application\/([\w.+-]+\+)?json\b/i.test(type)
  ) {
    next(
      new Errors.MoleculerClientError('The request body must be JSON', 415, 'UNSUPPORTED_MEDIA_TYPE', {
        errors: [{ field: 'Content-Type', message: 'must be application/json' }],
      }),
    );
    return;
  }
  next();
}

function sendHealth(res: ServerResponse, report: HealthReport) {
  res.statusCode = httpStatusOf(report);
  res.setHeader('Content-Type', HEALTH_CONTENT_TYPE);
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(report));
}

const GatewayService: ServiceSchema = {
  name: 'gateway',
  mixins: [ApiGateway],
  settings: {
    port: config().http.port,
    ip: '0.0.0.0',
    use: [requestBasics],
    log4XXResponses: false,
    logRequest: 'debug',
    logResponse: 'debug',
    routes: [
      {
        path: '/health',
        mappingPolicy: 'restrict',
        bodyParsers: false,
        aliases: {
          'GET /live'(req: IncomingMessage, res: ServerResponse) {
            sendHealth(res, processHealth().live());
          },
          'GET /ready'(this: Service, req: IncomingMessage, res: ServerResponse) {
            void processHealth()
              .ready()
              .then((report) => sendHealth(res, report));
          },
        },
      },
      {
        path: API_BASE,
        // authentication and authorization plug in here, as moleculer-web's `authentication` and
        // `authorization` hooks of this route (an open issue); until then every route is open
        mappingPolicy: 'restrict',
        mergeParams: false,
        autoAliases: false,
        bodyParsers: { json: { strict: true, limit: '1mb' }, urlencoded: false },
        aliases: {
          'GET /events': { action: 'events.list', shape: 'events' },
          // before the resources, so that `stream` is not taken for an id
          'GET /events/stream'(this: Service, req: GatewayRequest, res: ServerResponse) {
            const query = req.$params?.query ?? {};
            streamEvents(req, res, { broker: this.broker, query, meta: { requestId: req.$requestId } }).catch(
              (err: unknown) => sendProblem.call(this, req, res, err),
            );
          },
          ...Object.fromEntries(
            RESOURCES.flatMap((r) => aliasesFor(r, API_BASE)).map((a) => [`${a.method} ${a.path}`, a]),
          ),
        },
        async onBeforeCall(
          this: Service,
          ctx: Context<unknown, Record<string, unknown>>,
          _route: unknown,
          req: GatewayRequest,
          _res: ServerResponse,
          alias: RestAlias,
        ) {
          ctx.meta.requestId = req.$requestId;
          const shaped = shapeParams(alias, req.$params ?? {}, req);
          if (alias.parentGet && typeof shaped.scope === 'object') {
            // a nested path under a parent that does not exist is a 404, not an empty list
            await ctx.call(alias.parentGet, { id: req.$params?.params?.id });
          }
          req.$params = shaped;
        },
        onAfterCall(
          this: Service,
          ctx: Context<unknown, Record<string, unknown>>,
          _route: unknown,
          req: GatewayRequest,
          _res: ServerResponse,
          data: unknown,
        ) {
          const alias = req.$alias;
          const entity = typeof data === 'object' && data !== null && 'version' in data ? data : undefined;
          const headers: Record<string, string> = {};
          if (entity) headers.ETag = etagOf(entity.version);
          if (alias?.shape === 'create' && entity && 'id' in entity) {
            ctx.meta.$statusCode = 201;
            ctx.meta.$location = `${alias.location}/${String(entity.id)}`;
          }
          if (alias?.shape === 'remove') {
            ctx.meta.$statusCode = 204;
            ctx.meta.$responseHeaders = headers;
            return null;
          }
          if (alias?.shape === 'get' && entity && req.headers['if-none-match'] === headers.ETag) {
            ctx.meta.$statusCode = 304;
            ctx.meta.$responseHeaders = headers;
            return null;
          }
          ctx.meta.$responseHeaders = headers;
          return data;
        },
        onError(this: Service, req: GatewayRequest, res: ServerResponse, err: unknown) {
          sendProblem.call(this, req, res, err);
        },
      },
    ],
    onError(this: Service, req: GatewayRequest, res: ServerResponse, err: unknown) {
      sendProblem.call(this, req, res, err);
    },
  },
  started(this: Service) {
    processHealth().register('broker:connected', () => {
      const transit = this.broker.transit;
      return transit && !transit.connected
        ? { status: 'fail', output: 'not connected to the message broker' }
        : { status: 'pass' };
    });
  },
};

export default GatewayService;
