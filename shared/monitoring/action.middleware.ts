import type { Context, Middleware } from 'moleculer';
import { actionDuration, actionErrors } from './platform.metrics';
import { timer } from './metrics';

interface ActionDef {
  name?: string;
  rawName?: string;
  service?: { name: string };
}

/** The stable type of an error (our codes, Moleculer's types); anything else is INTERNAL. */
export function errorType(err: unknown): string {
  const type: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'type') : undefined;
  if (typeof type !== 'string' || !/^[A-Z][A-Z0-9_]{0,63}$/.test(type)) return 'INTERNAL';
  // Moleculer's parameter validator; the client sees it as our VALIDATION_FAILED
  return type === 'VALIDATION_ERROR' ? 'VALIDATION_FAILED' : type;
}

/**
 * Times every action call this process serves and counts its errors by type. The broker adds it
 * after Moleculer's own middlewares (moleculer.config.ts), so it wraps them all: parameter
 * validation failures, cache hits, timeouts and the error handler are inside what it measures.
 */
export const actionMetricsMiddleware: Middleware = {
  localAction(next: (ctx: Context) => Promise<unknown>, action: ActionDef) {
    const fullName = action.name ?? 'unknown';
    const service = action.service?.name ?? fullName.split('.')[0] ?? 'unknown';
    const name = action.rawName ?? fullName.slice(service.length + 1);
    // the labelled child once per action, not a label lookup per call
    const duration = actionDuration.labels(service, name);
    return (ctx: Context) => {
      const elapsed = timer();
      return next(ctx).then(
        (result) => {
          duration.observe(elapsed());
          return result;
        },
        (err: unknown) => {
          duration.observe(elapsed());
          actionErrors.inc({ service, action: name, type: errorType(err) });
          throw err;
        },
      );
    };
  },
};
