import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, type Context, type Service } from 'moleculer';
import type { Role } from '../../shared/auth';
import { toProblem } from './problem';
import { isBulkUpload, isNdjson } from './bulk';
import type { HttpParams, RestAlias } from './rest';

/** The gateway's request: what moleculer-web and our hooks put on it. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface GatewayRequest extends IncomingMessage {
  $requestId?: string;
  $params?: HttpParams;
  $alias?: RestAlias;
  $action?: { name?: string; roles?: readonly Role[] };
  $ctx?: Context<unknown, Record<string, unknown>>;
  /** nested routes: the parent's id from the path */
  $parentId?: string;
}

export function sendProblem(this: Service, req: GatewayRequest, res: ServerResponse, err: unknown) {
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
export function requestBasics(req: GatewayRequest, res: ServerResponse, next: (err?: unknown) => void) {
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
