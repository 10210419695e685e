import { Errors } from 'moleculer';
import { isArxosError, type FieldError } from '../../shared/errors';

/** An RFC 9457 problem document as API.md fixes it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors: FieldError[];
}

const TITLES: Record<string, string> = {
  VALIDATION_FAILED: 'The request is not valid',
  NOT_FOUND: 'Not found',
  CONFLICT: 'Conflict with the current state',
  PRECONDITION_FAILED: 'The resource has changed',
  UNAUTHORIZED: 'Authentication required',
  FORBIDDEN: 'Not allowed',
  RATE_LIMITED: 'Too many requests',
  PAYLOAD_TOO_LARGE: 'The request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'The request body must be JSON',
  METHOD_NOT_ALLOWED: 'Method not allowed',
  UNAVAILABLE: 'Temporarily unavailable',
  INTERNAL: 'Internal error',
};

/** Moleculer's own errors that mean "a service or the broker cannot answer now". */
const UNAVAILABLE_TYPES = new Set([
  'SERVICE_NOT_FOUND',
  'SERVICE_NOT_AVAILABLE',
  'REQUEST_TIMEOUT',
  'REQUEST_REJECTED',
  'REQUEST_SKIPPED',
  'QUEUE_FULL',
  'CIRCUIT_BREAKER_OPEN',
  'BROKER_DISCONNECTED',
  'BAD_GATEWAY',
]);

const field = (name: unknown): string => {
  const f = typeof name === 'string' ? name : 'body';
  // the RPC envelope's `data` is the HTTP body
  return f === 'data' ? 'body' : f.startsWith('data.') ? f.slice(5) : f;
};

function fieldErrorsOf(data: unknown): FieldError[] {
  const list: unknown = Array.isArray(data)
    ? data
    : typeof data === 'object' && data !== null
      ? Reflect.get(data, 'errors')
      : undefined;
  if (!Array.isArray(list)) return [];
  return list.map((e: unknown) => ({
    field: field(typeof e === 'object' && e !== null ? Reflect.get(e, 'field') : undefined),
    message: String(
      (typeof e === 'object' && e !== null ? Reflect.get(e, 'message') : undefined) ?? 'is not valid',
    ),
  }));
}

export interface ProblemResponse {
  problem: Problem;
  headers: Record<string, string>;
  /** unexpected: log it with its stack, show the client nothing of it */
  internal: boolean;
}

/** Any error → the problem a client sees. The only place errors become HTTP. */
export function toProblem(err: unknown, requestId: string): ProblemResponse {
  const make = (status: number, code: string, detail: string, errors: FieldError[] = [], headers = {}) => ({
    problem: {
      type: `/problems/${code.toLowerCase().replace(/_/g, '-')}`,
      title: TITLES[code] ?? code,
      status,
      detail,
      code,
      requestId,
      errors,
    },
    headers,
    internal: false,
  });

  // body-parser: malformed JSON and oversized bodies
  const bpType: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'type') : undefined;
  if (bpType === 'entity.too.large') {
    return make(413, 'PAYLOAD_TOO_LARGE', 'The request body is over 1 MiB', [
      { field: 'body', message: 'is over 1 MiB' },
    ]);
  }
  if (
    bpType === 'entity.parse.failed' ||
    bpType === 'encoding.unsupported' ||
    bpType === 'charset.unsupported'
  ) {
    return make(400, 'VALIDATION_FAILED', 'The request body is not valid JSON', [
      { field: 'body', message: 'is not valid JSON' },
    ]);
  }

  if (err instanceof Errors.ValidationError || bpType === 'VALIDATION_ERROR') {
    const data: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'data') : undefined;
    const errors = fieldErrorsOf(data);
    return make(
      400,
      'VALIDATION_FAILED',
      errors.map((e) => `${e.field}: ${e.message}`).join('; ') || 'Invalid request',
      errors,
    );
  }
  if (isArxosError(err)) {
    if (
      UNAVAILABLE_TYPES.has(err.type) ||
      err.type === 'UNAVAILABLE' ||
      err.code === 503 ||
      err.code === 504
    ) {
      const retryAfter = err.data?.retryAfter ?? 5;
      return make(503, 'UNAVAILABLE', 'A service this request needs is unavailable; try again shortly', [], {
        'Retry-After': String(retryAfter),
      });
    }
    if (err.code >= 400 && err.code < 500) {
      const headers: Record<string, string> = {};
      if (err.type === 'RATE_LIMITED') headers['Retry-After'] = String(err.data?.retryAfter ?? 60);
      if (err.type === 'UNAUTHORIZED') headers['WWW-Authenticate'] = 'Bearer';
      const made = make(err.code, err.type, err.message, fieldErrorsOf(err.data), headers);
      const extensions = err.data?.extensions;
      if (typeof extensions === 'object' && extensions !== null) {
        // extension members never replace the ones RFC 9457 and API.md define
        for (const [k, v] of Object.entries(extensions))
          if (!(k in made.problem)) Reflect.set(made.problem, k, v);
      }
      return made;
    }
  }
  return {
    ...make(500, 'INTERNAL', 'Something went wrong on our side; the request id identifies it in our logs'),
    internal: true,
  };
}
