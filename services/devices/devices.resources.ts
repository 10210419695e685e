import { fieldError } from '../../shared/errors';
import type { Models } from '../../shared/db';
import type { Resource } from '../../shared/data';

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

export function deviceResources(models: Models): Record<string, Resource> {
  const device: Resource = {
    name: 'device',
    title: 'Device',
    model: models.Device,
    fields: {
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
    },
    search: ['name', 'serialNumber'],
    volatile: ['lastSeenAt'],
    unique: [{ index: 'devices_serial_live_uq', fields: ['serialNumber'] }],
    spatial: { near: 'location', bbox: 'location' },
    // floorId and buildingId follow the room
    async prepare(values, { transaction }) {
      if (!('roomId' in values)) return;
      if (values.roomId === null) {
        values.floorId = null;
        values.buildingId = null;
        return;
      }
      const roomId = typeof values.roomId === 'string' ? values.roomId : '';
      const room = await models.Room.findByPk(roomId, { transaction });
      if (!room) throw fieldError('roomId', `Room ${roomId} does not exist`);
      values.floorId = room.getDataValue('floorId');
      values.buildingId = room.getDataValue('buildingId');
    },
  };
  return { device };
}
