import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** Who is acting and on behalf of which request: read by the audit hooks, events and every log line. */
export interface RequestContext {
  /** user id, or `system` for work no user asked for */
  actor: string;
  requestId: string;
  /** id of the event (or request) that caused this work */
  causationId?: string;
  /** the signed-in user's role; absent for system work */
  role?: string;
}

export const SYSTEM_ACTOR = 'system';

const storage = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The context of the running request, or a system context for background work. */
export function contextOrSystem(): RequestContext {
  return storage.getStore() ?? { actor: SYSTEM_ACTOR, requestId: randomUUID() };
}

export function runInContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The part of Moleculer's `ctx.meta` that carries the request context between nodes. */
export interface ContextMeta {
  requestId?: string;
  user?: { id: string; role?: string };
  causationId?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function contextFromMeta(meta: unknown, fallbackRequestId: string): RequestContext {
  const m = isRecord(meta) ? meta : {};
  const user = isRecord(m.user) && typeof m.user.id === 'string' ? m.user.id : undefined;
  const role = isRecord(m.user) && typeof m.user.role === 'string' ? m.user.role : undefined;
  return {
    role,
    actor: user ?? SYSTEM_ACTOR,
    requestId: typeof m.requestId === 'string' && m.requestId ? m.requestId : fallbackRequestId,
    causationId: typeof m.causationId === 'string' ? m.causationId : undefined,
  };
}

/** The inverse of contextFromMeta: `ctx.meta` for a call made on behalf of the running request. */
export function metaFromContext(): ContextMeta {
  const ctx = storage.getStore();
  if (!ctx) return {};
  return {
    requestId: ctx.requestId,
    ...(ctx.actor !== SYSTEM_ACTOR ? { user: { id: ctx.actor, role: ctx.role } } : {}),
    ...(ctx.causationId ? { causationId: ctx.causationId } : {}),
  };
}
