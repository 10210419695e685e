import type { ServiceSchema } from 'moleculer';
import type { ServiceName } from '../shared/config';

/** Every service of the code base, loaded only when a process runs it. */
export const SERVICES: Record<ServiceName, () => Promise<ServiceSchema>> = {
  gateway: async () => (await import('./gateway/gateway.service')).default,
  users: async () => (await import('./users/users.service')).default,
  buildings: async () => (await import('./buildings/buildings.service')).default,
  devices: async () => (await import('./devices/devices.service')).default,
  projects: async () => (await import('./projects/projects.service')).default,
  events: async () => (await import('./events/events.service')).default,
  monitoring: async () => (await import('./monitoring/monitoring.service')).default,
};
