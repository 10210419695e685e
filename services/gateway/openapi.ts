import type { ServiceBroker } from 'moleculer';
import type { ResourceSchemas } from '../../shared/data';
import { ERRORS, json, operation, type Schema } from './openapi.operations';
import { customPaths } from './openapi.custom';
import type { RestAlias, RestResource } from './rest';

/*
 * GET /api/openapi.json: OpenAPI 3.1 built from the same route table the gateway serves and from
 * each resource's field definitions (asked of its service, `<actions>describe`), so the document
 * cannot drift from what answers.
 */

const titleOf = (name: string) =>
  name.replace(/(^|_)([a-z])/g, (_m, _u: string, c: string) => c.toUpperCase());

export async function buildOpenApi(
  broker: ServiceBroker,
  resources: RestResource[],
  aliases: RestAlias[],
  base: string,
): Promise<Schema> {
  const schemas: Record<string, Schema> = {
    Problem: {
      type: 'object',
      required: ['type', 'title', 'status', 'code', 'requestId'],
      properties: {
        type: { type: 'string' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        code: {
          type: 'string',
          examples: [
            'VALIDATION_FAILED',
            'NOT_FOUND',
            'CONFLICT',
            'PRECONDITION_FAILED',
            'UNAUTHORIZED',
            'FORBIDDEN',
            'RATE_LIMITED',
            'UNAVAILABLE',
          ],
        },
        requestId: { type: 'string' },
        errors: {
          type: 'array',
          items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
        },
      },
    },
    Point: {
      type: 'object',
      required: ['type', 'coordinates'],
      properties: {
        type: { const: 'Point' },
        coordinates: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 3 },
      },
    },
    Polygon: {
      type: 'object',
      required: ['type', 'coordinates'],
      properties: {
        type: { const: 'Polygon' },
        coordinates: {
          type: 'array',
          items: { type: 'array', minItems: 4, items: { type: 'array', items: { type: 'number' } } },
        },
      },
    },
    Money: {
      type: 'object',
      required: ['amount', 'currency'],
      additionalProperties: false,
      properties: {
        amount: { type: 'number', minimum: 0, description: "at most the currency's minor digits" },
        currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217' },
      },
    },
    ChangeRecord: {
      type: 'object',
      properties: {
        id: { type: 'string' },
        entityType: { type: 'string' },
        entityId: { type: 'string' },
        action: { enum: ['create', 'update', 'delete', 'restore'] },
        actor: { type: 'string' },
        requestId: { type: ['string', 'null'] },
        at: { type: 'string', format: 'date-time' },
        changes: { type: 'object' },
      },
    },
    Event: {
      type: 'object',
      properties: {
        ...Object.fromEntries(
          [
            'id',
            'type',
            'aggregateType',
            'aggregateId',
            'occurredAt',
            'actor',
            'requestId',
            'causationId',
          ].map((k) => [k, { type: ['string', 'null'] }]),
        ),
        aggregateVersion: { type: 'integer' },
        position: { type: 'integer' },
        schemaVersion: { type: 'integer' },
        data: { type: 'object' },
      },
    },
  };
  const paths: Record<string, Record<string, Schema>> = {};
  const described = new Map<string, ResourceSchemas>();
  for (const r of resources) {
    const s = await broker.call<ResourceSchemas, Record<string, never>>(`${r.actions}describe`, {});
    described.set(r.actions, s);
    const ref = titleOf(s.name);
    schemas[ref] = s.entity;
    schemas[`${ref}Create`] = s.create;
    schemas[`${ref}Update`] = s.update;
  }
  for (const alias of aliases) {
    const prefix = alias.action.slice(0, alias.action.lastIndexOf('.') + 1);
    const s = described.get(prefix);
    if (!s) continue;
    const path = `${base}${alias.path}`.replace(':id', '{id}');
    (paths[path] ??= {})[alias.method.toLowerCase()] = operation(alias, s, titleOf(s.name));
  }
  const bearer = [{ bearer: [] }];
  paths[`${base}/auth/login`] = {
    post: {
      tags: ['auth'],
      summary: 'Log in',
      requestBody: {
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['email', 'password'],
              properties: { email: { type: 'string' }, password: { type: 'string' } },
            },
          },
        },
      },
      responses: {
        '200': json({
          type: 'object',
          properties: {
            accessToken: { type: 'string' },
            refreshToken: { type: 'string' },
            expiresIn: { type: 'integer' },
            user: { $ref: '#/components/schemas/User' },
          },
        }),
        '401': ERRORS['401'],
        '429': ERRORS['429'],
      },
    },
  };
  const refreshBody = {
    content: {
      'application/json': {
        schema: {
          type: 'object',
          required: ['refreshToken'],
          properties: { refreshToken: { type: 'string' } },
        },
      },
    },
  };
  paths[`${base}/auth/refresh`] = {
    post: {
      tags: ['auth'],
      summary: 'Rotate the refresh token',
      requestBody: refreshBody,
      responses: { '200': json({ type: 'object' }), '401': ERRORS['401'] },
    },
  };
  paths[`${base}/auth/logout`] = {
    post: {
      tags: ['auth'],
      summary: 'Revoke the refresh token (and its family)',
      requestBody: refreshBody,
      responses: { '204': { description: 'Logged out' } },
    },
  };
  Object.assign(paths, customPaths(base));
  paths[`${base}/me`] = {
    get: {
      tags: ['auth'],
      security: bearer,
      summary: 'The signed-in user',
      responses: { '200': json({ $ref: '#/components/schemas/User' }), '401': ERRORS['401'] },
    },
  };
  const eventFilters = ['aggregateId', 'aggregateType', 'type', 'after', 'limit'].map((name) => ({
    name,
    in: 'query',
    schema: { type: name === 'after' || name === 'limit' ? 'integer' : 'string' },
  }));
  paths[`${base}/events`] = {
    get: {
      tags: ['events'],
      security: bearer,
      summary: 'The domain event log, by position',
      parameters: eventFilters,
      responses: {
        '200': json({
          type: 'object',
          properties: { data: { type: 'array', items: { $ref: '#/components/schemas/Event' } } },
        }),
        ...ERRORS,
      },
    },
  };
  paths[`${base}/events/stream`] = {
    get: {
      tags: ['events'],
      security: bearer,
      summary: 'Server-Sent Events (id = position), resumable with Last-Event-ID',
      parameters: [...eventFilters, { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } }],
      responses: {
        '200': {
          description: 'text/event-stream',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        ...ERRORS,
      },
    },
  };
  for (const [p, summary] of [
    ['/health/live', 'The process answers'],
    ['/health/ready', 'This node can serve'],
  ] as const) {
    paths[p] = {
      get: {
        tags: ['operations'],
        summary,
        responses: {
          '200': {
            description: 'pass or warn',
            content: { 'application/health+json': { schema: { type: 'object' } } },
          },
          '503': { description: 'fail' },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Arxos API',
      version: '1',
      description:
        'Buildings, floors, rooms, devices, users; domain events. Errors are RFC 9457 problem+json.',
    },
    servers: [{ url: '/' }],
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    paths,
  };
}

/** GET /api/docs: a page that reads the document (no script from elsewhere). */
export const DOCS_HTML = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Arxos API</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;max-width:70rem}code{background:#f3f3f3;padding:0 .2rem}
.m{display:inline-block;width:4.5rem;font-weight:600}h2{margin-top:2rem}li{margin:.2rem 0}</style></head>
<body><h1>Arxos API</h1><p>The machine-readable contract: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>
<div id="ops">Loading…</div><script>
fetch('/api/openapi.json').then(r=>r.json()).then(doc=>{const by={};for(const[p,ops]of Object.entries(doc.paths))for(const[m,op]of Object.entries(ops)){const t=(op.tags||['other'])[0];(by[t]=by[t]||[]).push([m,p,op])}
const esc=s=>String(s).replace(/[&<>]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
document.getElementById('ops').innerHTML=Object.entries(by).map(([t,ops])=>'<h2>'+esc(t)+'</h2><ul>'+ops.map(([m,p,op])=>'<li><span class="m">'+m.toUpperCase()+'</span><code>'+esc(p)+'</code> '+esc(op.summary||'')+' <small>'+Object.keys(op.responses||{}).join(' ')+'</small></li>').join('')+'</ul>').join('')});
</script></body></html>`;
