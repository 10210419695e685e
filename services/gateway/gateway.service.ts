import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, type Context, type Service, type ServiceSchema } from 'moleculer';
import ApiGateway from 'moleculer-web';
import { isRole, userOf, verifyAccessToken, type AuthUser, type Role } from '../../shared/auth';
import { ArxosCacher } from '../../shared/cache';
import { config } from '../../shared/config';
import { entityCacheKey } from '../../shared/data';
import { forbidden, isArxosError, rateLimited, unauthorized } from '../../shared/errors';
import { observeHttp, OPS_ROUTES } from './ops';
import { toProblem } from './problem';
import { buildOpenApi, DOCS_HTML } from './openapi';
import { streamEvents } from './sse';
import { bulkRowsAction, isBulkUpload, isNdjson, runImport } from './bulk';
import { streamExport } from './export';
import {
  aliasesFor,
  etagOf,
  fillLocation,
  shapeParams,
  type HttpParams,
  type RestAlias,
  type RestResource,
} from './rest';

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
  const users: RestResource = { path: '/users', actions: 'users.' };
  const members: RestResource = { path: '/members', actions: 'projects.members.', nestedOnly: true };
  const projects: RestResource = {
    path: '/projects',
    actions: 'projects.',
    children: [
      {
        path: '/members',
        resource: members,
        scopeField: 'projectId',
        location: '/projects/{projectId}/members/{userId}',
      },
    ],
  };
  return [buildings, floors, rooms, devices, users, projects, members];
})();

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface GatewayRequest extends IncomingMessage {
  $requestId?: string;
  $params?: HttpParams;
  $alias?: RestAlias;
  $action?: { name?: string; roles?: readonly Role[] };
  $ctx?: Context<unknown, Record<string, unknown>>;
  /** nested routes: the parent's id from the path */
  $parentId?: string;
}

/** The peer address; behind a proxy, configure it to pass the client's (not trusted from headers here). */
const clientIp = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';

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
    !/^application\/([\w.+-]+\+)?json\b/i.test(type) &&
    !(isBulkUpload(req) && isNdjson(type))
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

const API_ALIASES = RESOURCES.flatMap((r) => aliasesFor(r, API_BASE));
let openApi: { doc: Record<string, unknown>; at: number } | undefined;

/** Built from the services' own field definitions; kept a minute (it changes only with a deploy). */
async function openApiDocument(svc: Service) {
  if (!openApi || Date.now() - openApi.at > 60_000) {
    openApi = { doc: await buildOpenApi(svc.broker, RESOURCES, API_ALIASES, API_BASE), at: Date.now() };
  }
  return openApi.doc;
}

/** API rate limit per identity, counted in Redis so every gateway instance shares it. */
async function rateLimit(svc: Service, identity: string, perMinute: number) {
  const cacher = svc.broker.cacher;
  if (!(cacher instanceof ArxosCacher)) return;
  const { count, resetS } = await cacher.cache.hit(`api:${identity}`, 60);
  if (count > perMinute) throw rateLimited(resetS);
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
      ...OPS_ROUTES,
      {
        // the API's description, open like health and metrics (API.md "Operations")
        path: '/api',
        mappingPolicy: 'restrict',
        bodyParsers: false,
        aliases: {
          'GET /openapi.json'(this: Service, req: GatewayRequest, res: ServerResponse) {
            openApiDocument(this)
              .then((doc) => {
                res.setHeader('Content-Type', 'application/json; charset=utf-8');
                res.end(JSON.stringify(doc));
              })
              .catch((err: unknown) => sendProblem.call(this, req, res, err));
          },
          'GET /docs'(_req: IncomingMessage, res: ServerResponse) {
            res.setHeader('Content-Type', 'text/html; charset=utf-8');
            res.end(DOCS_HTML);
          },
        },
      },
      {
        // bulk import and export stream their bodies: no body parser, handlers of their own (named
        // routes: two routes on one path; moleculer-web tries `/devices/export` before `/devices/:id`)
        name: 'streams',
        path: API_BASE,
        mappingPolicy: 'restrict',
        mergeParams: false,
        autoAliases: false,
        bodyParsers: false,
        authentication: true,
        authorization: true,
        aliases: {
          'POST /devices/bulk'(this: Service, req: GatewayRequest, res: ServerResponse) {
            const ctx = req.$ctx;
            if (!ctx) return sendProblem.call(this, req, res, new Error('no context'));
            runImport(ctx, req, req.$params?.query ?? {})
              .then((report) => {
                res.setHeader('Content-Type', 'application/json; charset=utf-8');
                res.end(JSON.stringify(report));
              })
              .catch((err: unknown) => sendProblem.call(this, req, res, err));
          },
          'GET /devices/export'(this: Service, req: GatewayRequest, res: ServerResponse) {
            const ctx = req.$ctx;
            if (!ctx) return sendProblem.call(this, req, res, new Error('no context'));
            streamExport(ctx, req, res, req.$params?.query ?? {}).catch((err: unknown) => {
              // once rows are out, a clean end would pass for a complete export: cut it instead
              if (res.headersSent) {
                this.logger.error('export failed', { requestId: req.$requestId, err });
                res.destroy();
              } else sendProblem.call(this, req, res, err);
            });
          },
        },
        onBeforeCall(
          this: Service,
          ctx: Context<unknown, Record<string, unknown>>,
          _r: unknown,
          req: GatewayRequest,
        ) {
          ctx.meta.requestId = req.$requestId;
        },
        onError(this: Service, req: GatewayRequest, res: ServerResponse, err: unknown) {
          sendProblem.call(this, req, res, err);
        },
      },
      {
        name: 'api',
        path: API_BASE,
        // authentication and authorization plug in here, as moleculer-web's `authentication` and
        // `authorization` hooks of this route (an open issue); until then every route is open
        mappingPolicy: 'restrict',
        mergeParams: false,
        autoAliases: false,
        bodyParsers: { json: { strict: true, limit: '1mb' }, urlencoded: false },
        authentication: true,
        authorization: true,
        aliases: {
          'POST /auth/login': { action: 'users.login', shape: 'body', public: true },
          'POST /auth/refresh': { action: 'users.refresh', shape: 'body', public: true },
          'POST /auth/logout': { action: 'users.logout', shape: 'body', public: true, noContent: true },
          'GET /me': { action: 'users.me', shape: 'none' },
          'GET /events': { action: 'events.list', shape: 'events' },
          'POST /devices/:id/status': { action: 'devices.setStatus', shape: 'status' },
          'DELETE /projects/:id/members/:userId': {
            action: 'projects.members.removeUser',
            shape: 'path',
            noContent: true,
          },
          // before the resources, so that `stream` is not taken for an id
          'GET /events/stream'(this: Service, req: GatewayRequest, res: ServerResponse) {
            const query = req.$params?.query ?? {};
            const meta = { requestId: req.$requestId, user: req.$ctx?.meta.user };
            streamEvents(req, res, { broker: this.broker, query, meta }).catch((err: unknown) =>
              sendProblem.call(this, req, res, err),
            );
          },
          ...Object.fromEntries(API_ALIASES.map((a) => [`${a.method} ${a.path}`, a])),
        },
        onBeforeCall(
          this: Service,
          ctx: Context<unknown, Record<string, unknown>>,
          _route: unknown,
          req: GatewayRequest,
          _res: ServerResponse,
          alias: RestAlias,
        ) {
          ctx.meta.requestId = req.$requestId;
          if (!alias.shape) return; // a function alias (the SSE stream) reads the request itself
          const shaped = shapeParams(alias, req.$params ?? {}, req);
          if (alias.action === 'users.login') shaped.clientIp = clientIp(req);
          const parentId = req.$params?.params?.id;
          if (alias.parentGet && typeof parentId === 'string') req.$parentId = parentId;
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
            ctx.meta.$location = fillLocation(alias.location ?? '', entity);
          }
          if (alias?.shape === 'remove' || alias?.noContent) {
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
  actions: {
    bulkRows: bulkRowsAction,
  },
  methods: {
    /**
     * Every API route but login/refresh/logout needs a valid access token of an active user. The user
     * is read on every request (cached, and dropped from the cache when it changes), so a disabled
     * user or a changed role takes effect at once, not at the token's expiry.
     */
    async authenticate(
      this: Service,
      ctx: Context<unknown, Record<string, unknown>>,
      _route: unknown,
      req: GatewayRequest,
      _res: ServerResponse,
      alias: RestAlias,
    ): Promise<AuthUser | null> {
      const cfg = config().auth;
      if (alias.public) {
        await rateLimit(this, `ip:${clientIp(req)}`, cfg.rateLimitPerMinute);
        return null;
      }
      const header = req.headers.authorization;
      const token =
        typeof header === 'string' ? /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header)?.[1] : undefined;
      if (!token) throw unauthorized('Send an access token: Authorization: Bearer <token>');
      const { sub } = verifyAccessToken(token, cfg);
      // the users service's own cache entry, read straight from Redis: no broker round trip on the hot
      // path; it is dropped when the user changes, and a miss asks the service (which fills it)
      const cacher = this.broker.cacher;
      const cached =
        cacher instanceof ArxosCacher
          ? await cacher.cache.get<Record<string, unknown>>(entityCacheKey('users.get', sub), { fill: false })
          : undefined;
      const row =
        cached ??
        (await ctx
          .call<Record<string, unknown>, { id: string }>('users.get', { id: sub })
          .catch((err: unknown) => {
            if (isArxosError(err) && (err.type === 'NOT_FOUND' || err.type === 'VALIDATION_FAILED'))
              throw unauthorized('The user no longer exists');
            throw err;
          }));
      if (row.status !== 'active' || !isRole(row.role) || typeof row.id !== 'string')
        throw unauthorized('The account is disabled');
      const user: AuthUser = {
        id: row.id,
        role: row.role,
        email: typeof row.email === 'string' ? row.email : '',
      };
      await rateLimit(this, `user:${user.id}`, cfg.rateLimitPerMinute);
      return user;
    },
    /** The roles the called action declares (the same declaration its service enforces). */
    async authorize(
      this: Service,
      ctx: Context<unknown, Record<string, unknown>>,
      _route: unknown,
      req: GatewayRequest,
    ) {
      const roles = req.$action?.roles;
      const user = userOf(ctx);
      if (roles && user && !roles.includes(user.role)) throw forbidden(`${user.role} may not do this`);
      // a nested path under a parent that does not exist, or that the caller may not see, is a 404
      // (asked as the caller, once authenticated: a project's members are as private as the project)
      const parentGet = req.$alias?.parentGet;
      if (parentGet && req.$parentId) await ctx.call(parentGet, { id: req.$parentId });
    },
  },
  started(this: Service) {
    if (config().auth.devSecret) {
      this.logger.warn(
        'JWT_SECRET is not set: tokens are signed with the development key (never do this in production)',
      );
    }
    observeHttp(this);
  },
};

export default GatewayService;
