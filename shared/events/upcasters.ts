import type { DomainEvent } from './envelope';

/*
 * Stored events are never rewritten. When an event's shape changes, its schemaVersion goes up and an
 * upcaster turns the old shape into the next one at read time, so every reader sees current events.
 */

export type Upcaster = (data: Record<string, unknown>, event: DomainEvent) => Record<string, unknown>;

const upcasters = new Map<string, Upcaster>();
const key = (type: string, fromVersion: number) => `${type}@${fromVersion}`;

/** Registers the step from `fromVersion` to `fromVersion + 1` for events of `type`. */
export function registerUpcaster(type: string, fromVersion: number, upcast: Upcaster): void {
  const k = key(type, fromVersion);
  if (upcasters.has(k)) throw new Error(`an upcaster for ${type} v${fromVersion} is registered already`);
  upcasters.set(k, upcast);
}

/** Applies every registered step, in order, from the event's schemaVersion on. */
export function upcast(event: DomainEvent): DomainEvent {
  let current = event;
  for (;;) {
    const step = upcasters.get(key(current.type, current.schemaVersion));
    if (!step) return current;
    current = { ...current, data: step(current.data, current), schemaVersion: current.schemaVersion + 1 };
  }
}

/** The schema version new events of `type` are written with: one past the last registered step. */
export function currentSchemaVersion(type: string): number {
  let v = 1;
  while (upcasters.has(key(type, v))) v += 1;
  return v;
}

/** For tests: forget the steps registered for `type`. */
export function clearUpcasters(type: string): void {
  for (const k of [...upcasters.keys()]) if (k.startsWith(`${type}@`)) upcasters.delete(k);
}
