export {
  currentContext,
  contextOrSystem,
  runInContext,
  contextFromMeta,
  metaFromContext,
  SYSTEM_ACTOR,
} from './context';
export type { RequestContext, ContextMeta } from './context';
export { contextMiddleware } from './middleware';
