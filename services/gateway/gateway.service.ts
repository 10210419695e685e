import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Service, ServiceSchema } from 'moleculer';
import ApiGateway from 'moleculer-web';
import { isRole, userOf, verifyAccessToken, type AuthUser } from '../../shared/auth';
import { ArxosCacher } from '../../shared/cache';
import { config } from '../../shared/config';
import { entityCacheKey } from '../../shared/data';
import { forbidden, isArxosError, rateLimited, unauthorized } from '../../shared/errors';
import { observeHttp, OPS_ROUTES } from './ops';
import { buildOpenApi, DOCS_HTML } from './openapi';
import { streamEvents } from './sse';
import { bulkRowsAction } from './bulk';
import { requestBasics, sendProblem, type GatewayRequest } from './http';
import { streamsRoute } from './streams.route';
import { aliasesFor, etagOf, fillLocation, shapeParams, type RestAlias, type RestResource } from './rest';

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

/** The peer address; behind a proxy, configure it to pass the client's (not trusted from headers here). */
const clientIp = (req: IncomingMessage) => req.socket.remoteAddress ?? 'unknown';

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
      streamsRoute(API_BASE),
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
