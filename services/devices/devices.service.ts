import type { ServiceSchema } from 'moleculer';
import { Op } from 'sequelize';
import { dataService } from '../../shared/data';
import { deviceResources } from './devices.resources';

/**
 * Devices. CRUD from the shared data mechanism (`devices.{create,get,list,...}`), plus the
 * cross-service rule that a deleted room (alone or by cascade) leaves no device pointing at it.
 */
const DevicesService: ServiceSchema = {
  name: 'devices',
  mixins: [
    dataService({
      resources: deviceResources,
      // technicians change device fields (and, with the lifecycle, status) but do not create or delete
      expose: [{ resource: 'device', prefix: '', roles: { update: ['admin', 'manager', 'technician'] } }],
      consumers: [
        {
          // Restoring the room does not re-attach its devices: they may have been placed elsewhere
          // meanwhile, so a person decides (the detachment is in each device's history).
          name: 'detach-from-deleted-rooms',
          patterns: ['room.deleted'],
          async handle(event, { models, transaction }) {
            await models.Device.update(
              { roomId: null, floorId: null, buildingId: null },
              { where: { roomId: { [Op.eq]: event.aggregateId } }, transaction },
            );
          },
        },
      ],
    }),
  ],
};

export default DevicesService;
