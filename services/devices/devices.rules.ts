import { conflict } from '../../shared/errors';
import type { DEVICE_STATUSES } from './devices.resources';

export type DeviceStatus = (typeof DEVICE_STATUSES)[number];

/**
 * The device lifecycle of API.md: planned → installed → active ⇄ maintenance,
 * active|maintenance → faulty → maintenance, and any → decommissioned, which is final.
 */
const NEXT: Record<DeviceStatus, readonly DeviceStatus[]> = {
  planned: ['installed', 'decommissioned'],
  installed: ['active', 'decommissioned'],
  active: ['maintenance', 'faulty', 'decommissioned'],
  maintenance: ['active', 'faulty', 'decommissioned'],
  faulty: ['maintenance', 'decommissioned'],
  decommissioned: [],
};

export function canMove(from: DeviceStatus, to: DeviceStatus): boolean {
  return NEXT[from].includes(to);
}

/** An illegal move is a 409 naming both states (and what would be allowed). */
export function assertMove(from: DeviceStatus, to: DeviceStatus): void {
  if (canMove(from, to)) return;
  const allowed = NEXT[from];
  throw conflict(
    `a device cannot go from ${from} to ${to}` +
      (allowed.length ? ` (from ${from}: ${allowed.join(', ')})` : ` (${from} is final)`),
    [{ field: 'status', message: `cannot go from ${from} to ${to}` }],
  );
}
