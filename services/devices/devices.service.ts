import type { Context, Service, ServiceSchema } from 'moleculer';
import { Op } from 'sequelize';
import { dataOf, dataService } from '../../shared/data';
import { DEVICE_STATUSES, deviceResources } from './devices.resources';
import { assertMove, type DeviceStatus } from './devices.rules';

interface StatusParams {
  id: string;
  status: DeviceStatus;
  reason?: string;
  expectedVersion?: number;
}

const isStatus = (v: unknown): v is DeviceStatus => DEVICE_STATUSES.some((s) => s === v);

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
  actions: {
    /** POST /devices/{id}/status: a lifecycle move, emitted as device.status_changed with its reason. */
    setStatus: {
      roles: ['admin', 'manager', 'technician'],
      params: {
        $$strict: true,
        id: { type: 'string' },
        status: { type: 'enum', values: [...DEVICE_STATUSES] },
        reason: { type: 'string', max: 1000, optional: true },
        expectedVersion: { type: 'number', integer: true, optional: true },
      },
      handler(this: Service, ctx: Context<StatusParams>) {
        const { id, status, reason, expectedVersion } = ctx.params;
        const event = {
          type: 'device.status_changed',
          data: { from: '', to: status, reason: reason ?? null },
        };
        return dataOf(this).data.update(
          'device',
          id,
          {},
          {
            expectedVersion,
            set: { status, ...(status === 'installed' ? { installedAt: new Date() } : {}) },
            check: (current) => {
              if (!isStatus(current.status)) return;
              assertMove(current.status, status);
              event.data.from = current.status;
            },
            event,
          },
        );
      },
    },
  },
};

export default DevicesService;
