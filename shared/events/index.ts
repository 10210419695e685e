export { appendEvents, readEvents } from './store';
export { deferEvents, defersEvents, stageEvents, flushDeferredEvents } from './deferred';
export type { EventQuery } from './store';
export { eventTypeOf } from './envelope';
export type { DomainEvent, NewEvent } from './envelope';
export { registerUpcaster, upcast, currentSchemaVersion, clearUpcasters } from './upcasters';
export type { Upcaster } from './upcasters';
