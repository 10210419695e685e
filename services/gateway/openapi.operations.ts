import type { ResourceSchemas } from '../../shared/data';
import type { RestAlias } from './rest';

/** The OpenAPI operations of the resource routes, and the pieces the document shares. */

export type Schema = Record<string, unknown>;

export const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});
export const json = (schema: Schema, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});
export const ERRORS = {
  '400': problem('VALIDATION_FAILED: a parameter or field is not valid; `errors` names it'),
  '401': problem('UNAUTHORIZED: no valid access token'),
  '403': problem('FORBIDDEN: the role may not do this'),
  '429': problem('RATE_LIMITED: too many requests (Retry-After)'),
  '503': problem('UNAVAILABLE: a dependency is down (Retry-After)'),
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const page = (item: Schema) => ({
  type: 'object',
  required: ['data', 'page'],
  properties: {
    data: { type: 'array', items: item },
    page: {
      type: 'object',
      properties: {
        limit: { type: 'integer' },
        nextCursor: { type: ['string', 'null'] },
        hasMore: { type: 'boolean' },
      },
    },
    total: { type: 'integer', description: 'with count=true' },
  },
});

function listParameters(s: ResourceSchemas): Schema[] {
  const params: Schema[] = [
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
    {
      name: 'cursor',
      in: 'query',
      schema: { type: 'string' },
      description: 'page.nextCursor of the previous page',
    },
    {
      name: 'sort',
      in: 'query',
      schema: { type: 'string', default: '-createdAt' },
      description: `comma-separated, '-' for descending: ${s.sortable.join(', ')}${s.spatial.near ? ', distance' : ''}`,
    },
    { name: 'count', in: 'query', schema: { type: 'boolean' } },
    {
      name: 'deleted',
      in: 'query',
      schema: { type: 'string', enum: ['include', 'only'] },
      description: 'managers and admins',
    },
    { name: 'q', in: 'query', schema: { type: 'string' }, description: 'searches names' },
  ];
  for (const [field, schema] of Object.entries(s.filters)) {
    params.push({
      name: field,
      in: 'query',
      schema,
      description: `equals (repeat to OR); also ${field}__in, __gt, __gte, __lt, __lte, __ic, __isnull`,
    });
  }
  params.push({
    name: 'metadata.{key}',
    in: 'query',
    schema: { type: 'string' },
    description: 'a metadata key equals',
  });
  if (s.spatial.near) {
    params.push(
      {
        name: 'near',
        in: 'query',
        schema: { type: 'string', example: '13.4,52.5' },
        description: 'lng,lat (with radius); results carry distance (m)',
      },
      { name: 'radius', in: 'query', schema: { type: 'number', exclusiveMinimum: 0 }, description: 'metres' },
    );
  }
  if (s.spatial.bbox)
    params.push({
      name: 'bbox',
      in: 'query',
      schema: { type: 'string' },
      description: 'minLng,minLat,maxLng,maxLat',
    });
  if (s.spatial.containsPoint)
    params.push({ name: 'containsPoint', in: 'query', schema: { type: 'string' }, description: 'lng,lat' });
  return params;
}

export function operation(alias: RestAlias, s: ResourceSchemas, ref: string): Schema {
  const entity = { $ref: `#/components/schemas/${ref}` };
  const secured = { security: [{ bearer: [] }] };
  const params = alias.path.includes(':id') ? [idParam] : [];
  const base = { tags: [ref], ...secured, parameters: params };
  switch (alias.shape) {
    case 'list':
      return {
        ...base,
        summary: `List ${s.name}s`,
        parameters: [...params, ...listParameters(s)],
        responses: { '200': json(page(entity)), ...ERRORS, '404': problem('the parent does not exist') },
      };
    case 'create':
      return {
        ...base,
        summary: `Create a ${s.name}`,
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}Create` } } },
        },
        responses: {
          '201': {
            ...json(entity, 'Created'),
            headers: { Location: { schema: { type: 'string' } }, ETag: { schema: { type: 'string' } } },
          },
          ...ERRORS,
          '409': problem('CONFLICT: a unique value is taken'),
          '413': problem('PAYLOAD_TOO_LARGE'),
          '415': problem('the body is not JSON'),
        },
      };
    case 'get':
      return {
        ...base,
        summary: `Get a ${s.name}`,
        responses: {
          '200': { ...json(entity), headers: { ETag: { schema: { type: 'string' } } } },
          '304': { description: 'If-None-Match matched' },
          ...ERRORS,
          '404': problem('NOT_FOUND'),
        },
      };
    case 'update':
      return {
        ...base,
        summary: `Change a ${s.name}`,
        parameters: [
          ...params,
          { name: 'If-Match', in: 'header', schema: { type: 'string' }, description: 'W/"<version>"' },
        ],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}Update` } } },
        },
        responses: {
          '200': json(entity),
          ...ERRORS,
          '404': problem('NOT_FOUND'),
          '409': problem('CONFLICT'),
          '412': problem('PRECONDITION_FAILED: stale If-Match'),
        },
      };
    case 'remove':
      return {
        ...base,
        summary: `Soft-delete a ${s.name}`,
        parameters: [
          ...params,
          { name: 'cascade', in: 'query', schema: { type: 'boolean' } },
          { name: 'If-Match', in: 'header', schema: { type: 'string' } },
        ],
        responses: {
          '204': { description: 'Deleted' },
          ...ERRORS,
          '404': problem('NOT_FOUND'),
          '409': problem('CONFLICT: live children and no cascade'),
          '412': problem('PRECONDITION_FAILED'),
        },
      };
    case 'restore':
      return {
        ...base,
        summary: `Restore a ${s.name} and its deletion batch`,
        responses: {
          '200': json(entity),
          ...ERRORS,
          '404': problem('NOT_FOUND'),
          '409': problem('CONFLICT: not deleted, a unique clash, or a deleted parent'),
        },
      };
    case 'history':
      return {
        ...base,
        summary: `Change records of a ${s.name}, newest first`,
        parameters: [
          ...params,
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500 } },
          { name: 'cursor', in: 'query', schema: { type: 'string' } },
        ],
        responses: {
          '200': json(page({ $ref: '#/components/schemas/ChangeRecord' })),
          ...ERRORS,
          '404': problem('NOT_FOUND'),
        },
      };
    default:
      return base;
  }
}
