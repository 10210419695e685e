import { fieldError } from '../../shared/errors';
import type { Models } from '../../shared/db';
import type { Resource } from '../../shared/data';

export const BUILDING_STATUSES = [
  'planned',
  'under_construction',
  'active',
  'inactive',
  'decommissioned',
] as const;

/** Buildings, floors and rooms: one aggregate family, owned by the buildings service. */
export function buildingResources(models: Models): Record<string, Resource> {
  const building: Resource = {
    name: 'building',
    title: 'Building',
    model: models.Building,
    fields: {
      name: { type: 'string', required: true, maxLength: 200, filter: true, sort: true },
      code: { type: 'string', required: true, maxLength: 50, filter: true, sort: true },
      address: { type: 'string', maxLength: 500, filter: true, sort: true },
      status: { type: 'enum', values: BUILDING_STATUSES, filter: true, sort: true },
      location: { type: 'point' },
      footprint: { type: 'polygon' },
      yearBuilt: { type: 'integer', min: 1000, max: 3000, filter: true, sort: true },
      grossArea: { type: 'number', min: 0, filter: true, sort: true },
    },
    search: ['name', 'code'],
    unique: [{ index: 'buildings_code_live_uq', fields: ['code'] }],
    children: [{ resource: 'floor', foreignKey: 'buildingId' }],
    spatial: { near: 'location', bbox: 'location' },
  };

  const floor: Resource = {
    name: 'floor',
    title: 'Floor',
    model: models.Floor,
    fields: {
      buildingId: { type: 'uuid', required: true, immutable: true, filter: true, sort: true },
      name: { type: 'string', required: true, maxLength: 200, filter: true, sort: true },
      level: { type: 'integer', required: true, min: -100, max: 500, filter: true, sort: true },
      elevation: { type: 'number', min: -1000, max: 10000, filter: true, sort: true },
      height: { type: 'number', min: 0.1, max: 1000, filter: true, sort: true },
      outline: { type: 'polygon' },
    },
    unique: [{ index: 'floors_level_live_uq', fields: ['level'] }],
    children: [{ resource: 'room', foreignKey: 'floorId' }],
    parents: [{ model: models.Building, title: 'Building', foreignKey: 'buildingId' }],
    spatial: { bbox: 'outline' },
  };

  const room: Resource = {
    name: 'room',
    title: 'Room',
    model: models.Room,
    fields: {
      floorId: { type: 'uuid', required: true, immutable: true, filter: true, sort: true },
      buildingId: { type: 'uuid', readOnly: true, filter: true, sort: true },
      name: { type: 'string', required: true, maxLength: 200, filter: true, sort: true },
      number: { type: 'string', required: true, maxLength: 50, filter: true, sort: true },
      type: { type: 'string', maxLength: 100, filter: true, sort: true },
      capacity: { type: 'integer', min: 0, max: 100000, filter: true, sort: true },
      geometry: { type: 'polygon' },
      area: { type: 'number', readOnly: true, filter: true, sort: true },
    },
    search: ['name', 'number'],
    unique: [{ index: 'rooms_number_live_uq', fields: ['number'] }],
    parents: [
      { model: models.Floor, title: 'Floor', foreignKey: 'floorId' },
      { model: models.Building, title: 'Building', foreignKey: 'buildingId' },
    ],
    spatial: { bbox: 'geometry', containsPoint: 'geometry' },
    // buildingId is derived from the floor, never given
    async prepare(values, { mode, transaction }) {
      if (mode !== 'create') return;
      const floor = await models.Floor.findByPk(String(values.floorId), { transaction });
      if (!floor) throw fieldError('floorId', `Floor ${String(values.floorId)} does not exist`);
      values.buildingId = floor.getDataValue('buildingId');
    },
  };

  return { building, floor, room };
}
