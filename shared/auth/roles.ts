import type { Context, Middleware } from 'moleculer';
import { forbidden } from '../errors';
import { isRole, type AuthUser, type Role } from './tokens';

/** Who may write what (API.md "Auth"). Reads are open to every signed-in role. */
export const ALL_ROLES: readonly Role[] = ['admin', 'manager', 'technician', 'viewer'];
export const MANAGERS: readonly Role[] = ['admin', 'manager'];
export const ADMINS: readonly Role[] = ['admin'];

/** The signed-in user of a call, if any (absent on internal calls: consumers, start-up work). */
export function userOf(ctx: Context): AuthUser | undefined {
  const meta: unknown = ctx.meta;
  const user: unknown = typeof meta === 'object' && meta !== null ? Reflect.get(meta, 'user') : undefined;
  if (typeof user !== 'object' || user === null) return undefined;
  const id: unknown = Reflect.get(user, 'id');
  const role: unknown = Reflect.get(user, 'role');
  const email: unknown = Reflect.get(user, 'email');
  return typeof id === 'string' && isRole(role)
    ? { id, role, email: typeof email === 'string' ? email : '' }
    : undefined;
}

interface RolesAction {
  name?: string;
  roles?: readonly Role[];
}

/**
 * The roles an action declares (`roles: [...]` in its schema) are enforced where the action runs, so
 * a call over the broker is no way around them. The gateway checks the same declaration first, to
 * answer 403 without a round trip. A call without a user is internal (no HTTP request behind it).
 */
export const rolesMiddleware: Middleware = {
  localAction(next: (ctx: Context) => Promise<unknown>, action: RolesAction) {
    const roles = action.roles;
    if (!roles) return next;
    return (ctx: Context) => {
      const user = userOf(ctx);
      if (user && !roles.includes(user.role)) {
        // rejected, not thrown: middlewares around this one (the context tracker that drains on
        // shutdown) only see a failure that comes as a promise
        return Promise.reject(forbidden(`${user.role} may not call ${action.name ?? 'this action'}`));
      }
      return next(ctx);
    };
  },
};
