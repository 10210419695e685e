import { Errors } from 'moleculer';

/** Stable codes a client can act on (API.md "Errors"). */
export type ErrorCode =
  | 'VALIDATION_FAILED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface FieldError {
  field: string;
  message: string;
}

export interface ErrorData {
  errors?: FieldError[];
  /** seconds, for UNAVAILABLE and RATE_LIMITED */
  retryAfter?: number;
  [key: string]: unknown;
}

/*
 * Errors cross the broker as plain data: `instanceof` does not survive, `type` and `code` do.
 * `type` is our stable string code; `code` is the HTTP status.
 */
const client = (status: number, code: ErrorCode, message: string, data?: ErrorData) =>
  new Errors.MoleculerClientError(message, status, code, data);

/** `extensions` become members of the problem document a client gets (a bulk import's report). */
export const validationFailed = (
  errors: FieldError[],
  message?: string,
  extensions?: Record<string, unknown>,
) =>
  client(400, 'VALIDATION_FAILED', message ?? errors.map((e) => `${e.field}: ${e.message}`).join('; '), {
    errors,
    ...(extensions ? { extensions } : {}),
  });

export const fieldError = (field: string, message: string) => validationFailed([{ field, message }]);

export const notFound = (entity: string, id: string) =>
  client(404, 'NOT_FOUND', `${entity} ${id} does not exist`, { entity, id });

export const conflict = (message: string, errors: FieldError[] = []) =>
  client(409, 'CONFLICT', message, { errors });

export const preconditionFailed = (message: string) => client(412, 'PRECONDITION_FAILED', message);

export const unauthorized = (message = 'Authentication required') => client(401, 'UNAUTHORIZED', message);

export const forbidden = (message = 'Not allowed') => client(403, 'FORBIDDEN', message);

export const rateLimited = (retryAfter: number) =>
  client(429, 'RATE_LIMITED', 'Too many requests', { retryAfter });

export const unavailable = (what: string, retryAfter = 5) =>
  new Errors.MoleculerRetryableError(`${what} is unavailable`, 503, 'UNAVAILABLE', { retryAfter });

export interface ArxosErrorShape {
  code: number;
  type: ErrorCode;
  message: string;
  data?: ErrorData;
}

/** True for errors raised through this module (or their serialized copy from another node). */
export function isArxosError(err: unknown): err is ArxosErrorShape {
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    typeof err.code === 'number' &&
    'type' in err &&
    typeof err.type === 'string' &&
    /^[A-Z_]+$/.test(err.type)
  );
}
