import { ERRORS, json, problem, type Schema } from './openapi.operations';

/** The OpenAPI operations of the routes that are not plain resource routes (devices, projects). */

const BEARER = [{ bearer: [] }];
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const rowResult = {
  type: 'object',
  required: ['row', 'status'],
  properties: {
    row: { type: 'integer', description: '1-based position in the upload' },
    status: { enum: ['created', 'valid', 'invalid'] },
    id: { type: 'string', format: 'uuid' },
    errors: { type: 'array', items: { type: 'object' } },
  },
};
const report = {
  type: 'object',
  properties: {
    mode: { enum: ['all-or-nothing', 'skip-invalid'] },
    dryRun: { type: 'boolean' },
    total: { type: 'integer' },
    created: { type: 'integer' },
    valid: { type: 'integer', description: 'passed every check but not written (dry run)' },
    invalid: { type: 'integer' },
    results: { type: 'array', items: rowResult },
  },
};

export function customPaths(base: string): Record<string, Record<string, Schema>> {
  const paths: Record<string, Record<string, Schema>> = {};
  paths[`${base}/devices/{id}/status`] = {
    post: {
      tags: ['Device'],
      security: BEARER,
      summary: 'Move a device through its lifecycle (emits device.status_changed)',
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
        { name: 'If-Match', in: 'header', schema: { type: 'string' } },
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['status'],
              additionalProperties: false,
              properties: {
                status: {
                  enum: ['planned', 'installed', 'active', 'maintenance', 'faulty', 'decommissioned'],
                },
                reason: { type: 'string', maxLength: 1000 },
              },
            },
          },
        },
      },
      responses: {
        '200': json({ $ref: '#/components/schemas/Device' }),
        ...ERRORS,
        '404': { description: 'NOT_FOUND' },
        '409': { description: 'CONFLICT: a move the lifecycle does not allow (both states named)' },
        '412': { description: 'PRECONDITION_FAILED' },
      },
    },
  };
  paths[`${base}/devices/bulk`] = {
    post: {
      tags: ['Device'],
      security: BEARER,
      summary: 'Create up to 100 000 devices from a JSON array or NDJSON, streamed',
      description:
        'Every row is checked (fields, room, serial numbers among live devices and within the upload); ' +
        'valid rows are written with a change record and a device.created event each. all-or-nothing ' +
        '(default) writes nothing if a row is invalid and answers 400 with the report in `report`.',
      parameters: [
        { name: 'mode', in: 'query', schema: { enum: ['all-or-nothing', 'skip-invalid'] } },
        { name: 'dryRun', in: 'query', schema: { type: 'boolean' } },
      ],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: { type: 'array', items: { $ref: '#/components/schemas/DeviceCreate' } },
          },
          'application/x-ndjson': { schema: { type: 'string', description: 'one DeviceCreate per line' } },
        },
      },
      responses: {
        '200': json(report),
        ...ERRORS,
        '413': problem('PAYLOAD_TOO_LARGE: over 256 MiB'),
        '415': problem('neither JSON nor NDJSON'),
      },
    },
  };
  paths[`${base}/devices/export`] = {
    get: {
      tags: ['Device'],
      security: BEARER,
      summary: 'Every device the list filters match, streamed as NDJSON or CSV',
      parameters: [
        { name: 'format', in: 'query', schema: { enum: ['ndjson', 'csv'], default: 'ndjson' } },
        { name: 'sort', in: 'query', schema: { type: 'string' } },
        {
          name: '{filter}',
          in: 'query',
          schema: { type: 'string' },
          description: 'the filters of GET /devices',
        },
      ],
      responses: {
        '200': {
          description: 'the devices',
          content: {
            'application/x-ndjson': { schema: { type: 'string' } },
            'text/csv': { schema: { type: 'string' } },
          },
        },
        ...ERRORS,
      },
    },
  };
  paths[`${base}/projects/{id}/members/{userId}`] = {
    delete: {
      tags: ['Project member'],
      security: BEARER,
      summary: 'Remove a user from a project (emits project.member_removed)',
      parameters: [
        id,
        { name: 'userId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
      ],
      responses: {
        '204': { description: 'Removed' },
        ...ERRORS,
        '404': problem('NOT_FOUND: no such project (or not visible), or the user is no member'),
      },
    },
  };
  return paths;
}
