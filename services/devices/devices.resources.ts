import type { Models } from '../../shared/db';
import type { FieldSpec, Resource } from '../../shared/data';

export const DEVICE_TYPES = [
  'sensor',
  'actuator',
  'hvac',
  'lighting',
  'meter',
  'camera',
  'access_control',
  'gateway',
  'other',
] as const;
export const DEVICE_STATUSES = [
  'planned',
  'installed',
  'active',
  'maintenance',
  'faulty',
  'decommissioned',
] as const;

/** A device's fields (API.md "Resources"); the writable ones are what an import file may hold. */
export const DEVICE_FIELDS: Record<string, FieldSpec> = {
  name: { type: 'string', required: true, maxLength: 200, filter: true, sort: true },
  type: { type: 'enum', values: DEVICE_TYPES, required: true, filter: true, sort: true },
  manufacturer: { type: 'string', maxLength: 200, filter: true, sort: true },
  model: { type: 'string', maxLength: 200, filter: true, sort: true },
  serialNumber: { type: 'string', required: true, maxLength: 100, filter: true, sort: true },
  firmwareVersion: { type: 'string', maxLength: 100, filter: true },
  roomId: { type: 'uuid', filter: true },
  floorId: { type: 'uuid', readOnly: true, filter: true },
  buildingId: { type: 'uuid', readOnly: true, filter: true },
  location: { type: 'point' },
  // moves only through the lifecycle action
  status: { type: 'enum', values: DEVICE_STATUSES, readOnly: true, filter: true, sort: true },
  installedAt: { type: 'datetime', filter: true, sort: true },
  lastSeenAt: { type: 'datetime', readOnly: true, filter: true, sort: true },
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function deviceResources(models: Models): Record<string, Resource> {
  const device: Resource = {
    name: 'device',
    title: 'Device',
    model: models.Device,
    fields: DEVICE_FIELDS,
    search: ['name', 'serialNumber'],
    volatile: ['lastSeenAt'],
    unique: [{ index: 'devices_serial_live_uq', fields: ['serialNumber'] }],
    spatial: { near: 'location', bbox: 'location' },
    // floorId and buildingId follow the room, asked of the buildings service (one call per batch)
    async prepareMany(rows, { call }) {
      const ids = [...new Set(rows.map((r) => r.roomId).filter((id) => typeof id === 'string'))];
      const rooms = ids.length
        ? await call('buildings.rooms.lookup', { ids, fields: ['floorId', 'buildingId'] })
        : {};
      return rows.map((values) => {
        if (!('roomId' in values)) return undefined;
        const roomId = typeof values.roomId === 'string' ? values.roomId : null;
        const room: unknown = roomId ? Reflect.get(Object(rooms), roomId) : null;
        if (roomId !== null && !isRecord(room)) {
          return [{ field: 'roomId', message: `Room ${roomId} does not exist` }];
        }
        values.floorId = isRecord(room) ? room.floorId : null;
        values.buildingId = isRecord(room) ? room.buildingId : null;
        return undefined;
      });
    },
  };
  return { device };
}
