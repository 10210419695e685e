export {
  ROLES,
  isRole,
  hashPassword,
  verifyPassword,
  signAccessToken,
  verifyAccessToken,
  newRefreshToken,
  hashRefreshToken,
} from './tokens';
export type { Role, AuthUser } from './tokens';
export { ALL_ROLES, MANAGERS, ADMINS, userOf, rolesMiddleware } from './roles';
export { seesAllProjects, visibleProjectIdsSql, visibleEventsSql } from './project-visibility';
