import type { Context, Middleware } from 'moleculer';
import { contextFromMeta, runInContext } from './context';

const run = (ctx: Context, fn: () => unknown) =>
  runInContext(contextFromMeta(ctx.meta, ctx.requestID ?? ctx.id), fn);

/**
 * Fills the request context (actor, requestId, causationId) from `ctx.meta` around every local action
 * and event handler, so audit hooks, events and log lines see it without being handed it.
 */
export const contextMiddleware: Middleware = {
  localAction(next: (ctx: Context) => Promise<unknown>) {
    return (ctx: Context) => run(ctx, () => next(ctx));
  },
  localEvent(next: (ctx: Context) => Promise<unknown>) {
    return (ctx: Context) => run(ctx, () => next(ctx));
  },
};
