/** A domain event as API.md's envelope gives it. */
export interface DomainEvent<D = Record<string, unknown>> {
  id: string;
  type: string;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  /** global read order; set by the store */
  position: number;
  occurredAt: string;
  actor: string;
  requestId: string | null;
  causationId: string | null;
  schemaVersion: number;
  data: D;
}

export type NewEvent = Omit<DomainEvent, 'position' | 'occurredAt'> & { occurredAt?: Date };

/** `building` + `delete` → `building.deleted` */
export function eventTypeOf(entityType: string, action: 'create' | 'update' | 'delete' | 'restore'): string {
  const past = { create: 'created', update: 'updated', delete: 'deleted', restore: 'restored' }[action];
  return `${entityType}.${past}`;
}
