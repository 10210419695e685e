import type { Context, Service, ServiceSchema } from 'moleculer';
import { Op, QueryTypes } from 'sequelize';
import { fieldError } from '../../shared/errors';
import { dataOf, dataService } from '../../shared/data';
import { DEVICE_STATUSES, deviceResources } from './devices.resources';
import { deviceMetrics } from './devices.metrics';
import { assertMove, type DeviceStatus } from './devices.rules';
import { importAction } from './devices.import';

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
    deviceMetrics,
    dataService({
      resources: deviceResources,
      // technicians change device fields (and, with the lifecycle, status) but do not create or delete
      expose: [{ resource: 'device', prefix: '', roles: { update: ['admin', 'manager', 'technician'] } }],
      consumers: [
        {
          // A room deleted alone or by a floor's or building's cascade (each room gets its own
          // room.deleted); floor and building events catch devices placed without a room id on them.
          // Restoring does not re-attach the devices: they may have been placed elsewhere meanwhile,
          // so a person decides (the detachment is in each device's history, caused by the event).
          name: 'detach-from-deleted-rooms',
          patterns: ['room.deleted', 'floor.deleted', 'building.deleted'],
          async handle(event, { models, transaction }) {
            const column = { room: 'roomId', floor: 'floorId', building: 'buildingId' }[event.aggregateType];
            if (!column) return;
            await models.Device.update(
              { roomId: null, floorId: null, buildingId: null },
              { where: { [column]: { [Op.eq]: event.aggregateId } }, transaction },
            );
          },
        },
      ],
    }),
  ],
  actions: {
    import: importAction,
    /**
     * Devices (or their gateways) report they are alive, often and in batches. A beat is telemetry, not
     * a change of the device: one UPDATE for the batch, no change record, no event, no new version;
     * only the devices' cached `get` entries are dropped. Lists that filter or sort on lastSeenAt are
     * never cached (the resource marks it volatile). Answers how many devices it moved forward.
     */
    heartbeat: {
      roles: ['admin', 'manager', 'technician'],
      params: {
        $$strict: true,
        ids: { type: 'array', items: { type: 'uuid' }, min: 1, max: 1000 },
        at: { type: 'date', convert: true, optional: true },
      },
      async handler(this: Service, ctx: Context<{ ids: string[]; at?: Date }>) {
        const { database } = dataOf(this);
        const at = ctx.params.at ?? new Date();
        if (at.getTime() > Date.now() + 60_000) throw fieldError('at', 'must not be in the future');
        const rows = await database.sequelize.query<{ id: string }>(
          `UPDATE devices SET last_seen_at = :at
           WHERE id IN (:ids) AND deleted_at IS NULL AND (last_seen_at IS NULL OR last_seen_at < :at)
           RETURNING id`,
          { replacements: { ids: ctx.params.ids, at }, type: QueryTypes.SELECT },
        );
        // the beaten devices' cached reads go; lists stay (those on lastSeenAt are never cached)
        await dataOf(this).invalidate(new Map([['device', rows.map((r) => r.id)]]), false);
        return { updated: rows.length };
      },
    },
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
