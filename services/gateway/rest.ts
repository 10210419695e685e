import type { IncomingMessage } from 'node:http';
import { fieldError, preconditionFailed, validationFailed } from '../../shared/errors';

/*
 * REST routes for resources served by the shared data mechanism, declared once here: every resource
 * gets the same eight routes (API.md "Resources"), and the HTTP request is shaped into the RPC
 * envelope the mixin's actions take ({ id, data, query, scope, expectedVersion, cascade }).
 */

export type Shape =
  | 'list'
  | 'create'
  | 'get'
  | 'update'
  | 'remove'
  | 'restore'
  | 'history'
  | 'events'
  | 'body'
  | 'none'
  | 'status'
  | 'path';

export interface RestAlias {
  method: string;
  path: string;
  action: string;
  shape: Shape;
  /** nested routes: the parent id from the path fills this field */
  scopeField?: string;
  /** nested routes: the action that says whether the parent exists */
  parentGet?: string;
  /** where a created entity lives: a template filled from the entity, `/api/v1/buildings/{id}` */
  location?: string;
  /** answers without a signed-in user (login, refresh, logout) */
  public?: boolean;
  /** answers 204 with no body */
  noContent?: boolean;
}

export interface RestResource {
  /** URL path under the API base, e.g. `/buildings` */
  path: string;
  /** action prefix, e.g. `buildings.` or `buildings.floors.` */
  actions: string;
  /** nested resources; `location` (under the API base, `{field}`s of the entity) where not `path/{id}` */
  children?: { path: string; resource: RestResource; scopeField: string; location?: string }[];
  /** served only nested under its parent (a project's members) */
  nestedOnly?: boolean;
}

/** `/x/{projectId}/members/{userId}` filled from the entity's fields. */
export function fillLocation(template: string, entity: Record<string, unknown>): string {
  return template.replace(/\{(\w+)\}/g, (_m, field: string) => encodeURIComponent(String(entity[field])));
}

export function aliasesFor(resource: RestResource, base: string): RestAlias[] {
  const a = resource.actions;
  const location = `${base}${resource.path}/{id}`;
  const aliases: RestAlias[] = resource.nestedOnly
    ? []
    : [
        { method: 'GET', path: resource.path, action: `${a}list`, shape: 'list' },
        { method: 'POST', path: resource.path, action: `${a}create`, shape: 'create', location },
        { method: 'GET', path: `${resource.path}/:id`, action: `${a}get`, shape: 'get' },
        { method: 'PATCH', path: `${resource.path}/:id`, action: `${a}update`, shape: 'update' },
        { method: 'DELETE', path: `${resource.path}/:id`, action: `${a}remove`, shape: 'remove' },
        { method: 'POST', path: `${resource.path}/:id/restore`, action: `${a}restore`, shape: 'restore' },
        { method: 'GET', path: `${resource.path}/:id/history`, action: `${a}history`, shape: 'history' },
      ];
  for (const child of resource.children ?? []) {
    const c = child.resource.actions;
    const nested = `${resource.path}/:id${child.path}`;
    const common = { scopeField: child.scopeField, parentGet: `${a}get` };
    aliases.push(
      { method: 'GET', path: nested, action: `${c}list`, shape: 'list', ...common },
      {
        method: 'POST',
        path: nested,
        action: `${c}create`,
        shape: 'create',
        location: `${base}${child.location ?? `${child.resource.path}/{id}`}`,
        ...common,
      },
    );
  }
  return aliases;
}

export interface HttpParams {
  body?: unknown;
  query?: Record<string, unknown>;
  params?: Record<string, unknown>;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `W/"3"` or `"3"` → 3; `*` or no header → undefined (write to the current version). */
export function expectedVersion(req: IncomingMessage): number | undefined {
  const header = req.headers['if-match'];
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(header);
  if (!m?.[1]) {
    // an ETag we never issued cannot match the current one
    throw preconditionFailed('If-Match does not name a version of this resource (expected W/"<version>")');
  }
  return Number(m[1]);
}

export const etagOf = (version: unknown) => `W/"${typeof version === 'number' ? version : 0}"`;

function refuseQuery(query: Record<string, unknown>, allowed: string[]) {
  const extra = Object.keys(query).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw validationFailed(extra.map((f) => ({ field: f, message: 'is not a parameter of this route' })));
}

/** HTTP (body, query, path params, headers) → the action's params. */
export function shapeParams(
  alias: RestAlias,
  http: HttpParams,
  req: IncomingMessage,
): Record<string, unknown> {
  const query = isRecord(http.query) ? http.query : {};
  const id = typeof http.params?.id === 'string' ? http.params.id : undefined;
  const body = http.body;
  switch (alias.shape) {
    case 'list':
      return { query, ...(alias.scopeField && id ? { scope: { [alias.scopeField]: id } } : {}) };
    case 'create': {
      refuseQuery(query, []);
      if (!isRecord(body)) throw fieldError('body', 'must be a JSON object');
      if (alias.scopeField && id) {
        const given = body[alias.scopeField];
        if (given !== undefined && given !== id)
          throw fieldError(alias.scopeField, 'differs from the id in the path');
        return { data: { ...body, [alias.scopeField]: id } };
      }
      return { data: body };
    }
    case 'get':
      refuseQuery(query, []);
      return { id };
    case 'update':
      refuseQuery(query, []);
      if (!isRecord(body)) throw fieldError('body', 'must be a JSON object');
      return { id, data: body, expectedVersion: expectedVersion(req) };
    case 'remove': {
      refuseQuery(query, ['cascade']);
      const cascade = query.cascade;
      if (cascade !== undefined && cascade !== 'true' && cascade !== 'false')
        throw fieldError('cascade', 'must be true or false');
      return { id, cascade: cascade === 'true', expectedVersion: expectedVersion(req) };
    }
    case 'restore':
      refuseQuery(query, []);
      return { id };
    case 'history':
      refuseQuery(query, ['limit', 'cursor']);
      return { id, query };
    case 'events':
      return { query };
    case 'body':
      refuseQuery(query, []);
      if (!isRecord(body)) throw fieldError('body', 'must be a JSON object');
      return body;
    case 'none':
      refuseQuery(query, []);
      return {};
    case 'status':
      refuseQuery(query, []);
      if (!isRecord(body)) throw fieldError('body', 'must be a JSON object');
      return { ...body, id, expectedVersion: expectedVersion(req) };
    case 'path':
      refuseQuery(query, []);
      return { ...http.params, expectedVersion: expectedVersion(req) };
  }
}
