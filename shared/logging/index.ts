import winston from 'winston';
import { currentContext } from '../context';

/**
 * Keys whose values never reach a log line, wherever they appear in a logged object.
 * Matching is on the key name, case-insensitively, so `passwordHash` or `refreshToken`
 * are caught without each caller remembering to; passwords inside URLs are cut out of any string.
 */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|hash|api[-_]?key|credential/i;
const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactUrlPassword(value);
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return value;
  if (value instanceof Error) {
    return { name: value.name, message: redactUrlPassword(value.message), stack: value.stack };
  }
  if (seen.has(value) || depth >= MAX_DEPTH) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined ? REDACTED : redact(v, depth + 1, seen);
  }
  return out;
}

/** `scheme://user:password@host` → `scheme://user:[redacted]@host` inside any string. */
function redactUrlPassword(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]+@/gi, `$1${REDACTED}@`);
}

const RESERVED = new Set(['level', 'message', 'timestamp', 'service', 'nodeID', 'module']);

const contextAndRedaction = winston.format((info) => {
  const ctx = currentContext();
  if (ctx) {
    info.requestId ??= ctx.requestId;
    info.actor ??= ctx.actor;
    if (ctx.causationId) info.causationId ??= ctx.causationId;
  }
  for (const key of Object.keys(info)) {
    if (RESERVED.has(key)) continue;
    info[key] = SECRET_KEY.test(key) && info[key] != null ? REDACTED : redact(info[key]);
  }
  if (typeof info.message === 'string') info.message = redactUrlPassword(info.message);
  return info;
});

export type Logger = winston.Logger;

/** What a component needs to log: met by our winston loggers and by Moleculer's service loggers. */
export interface Log {
  error(message: string, ...meta: unknown[]): void;
  warn(message: string, ...meta: unknown[]): void;
  info(message: string, ...meta: unknown[]): void;
  debug(message: string, ...meta: unknown[]): void;
}

export interface LoggerOptions {
  level: string;
  /** where lines go; stdout by default (tests capture them with a stream) */
  stream?: NodeJS.WritableStream;
}

/** Moleculer's level names mapped onto winston's npm levels. */
const LEVEL_OF: Record<string, string> = { fatal: 'error', trace: 'silly' };

export function createLogger(options: LoggerOptions): Logger {
  return winston.createLogger({
    level: LEVEL_OF[options.level] ?? options.level,
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      winston.format.splat(),
      contextAndRedaction(),
      winston.format.timestamp(),
      winston.format.json(),
    ),
    transports: [
      options.stream
        ? new winston.transports.Stream({ stream: options.stream })
        : new winston.transports.Console({ stderrLevels: [] }),
    ],
  });
}

interface MoleculerBindings {
  nodeID?: string;
  mod?: string;
  svc?: string;
}

/**
 * Moleculer's logger option: its Winston adapter, each module's logger a child of ours, so broker
 * and service lines carry service, nodeID and the request context like every other line.
 */
export function moleculerLogger(root: Logger, level: string) {
  return {
    type: 'Winston',
    options: {
      // Moleculer drops lines below the level before they reach winston, whose formats would
      // otherwise run (context, redaction, JSON) for every debug line only to discard it
      level,
      createLogger: (_level: string, bindings: MoleculerBindings) =>
        root.child({ service: bindings.svc ?? bindings.mod, nodeID: bindings.nodeID, module: bindings.mod }),
    },
  };
}
