import type { Context, Service, ServiceSchema } from 'moleculer';
import { Op } from 'sequelize';
import { MANAGERS } from '../../shared/auth';
import { dataOf, dataService, isUuid } from '../../shared/data';
import { fieldError, notFound } from '../../shared/errors';
import { projectResources } from './projects.resources';

interface RemoveMemberParams {
  id: string;
  userId: string;
  expectedVersion?: number;
}

const uuids = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/**
 * Projects and their members. CRUD from the shared data mechanism (`projects.*` and
 * `projects.members.*`), with object-level authorization inside this service: a project is visible
 * only to its owner, its members, managers and admins, whoever calls (gateway or another service).
 */
const ProjectsService: ServiceSchema = {
  name: 'projects',
  mixins: [
    dataService({
      resources: projectResources,
      expose: [
        { resource: 'project', prefix: '' },
        { resource: 'member', prefix: 'members.' },
      ],
      consumers: [
        {
          // A project keeps its buildingIds; the ones soft-deleted now are listed in deletedBuildingIds
          // (a project.updated caused by the building event), and a restore takes them out again.
          name: 'track-deleted-buildings',
          patterns: ['building.deleted', 'building.restored'],
          async handle(event, { models, transaction }) {
            const buildingId = event.aggregateId;
            const deleted = event.type === 'building.deleted';
            const rows = await models.Project.findAll({
              where: { buildingIds: { [Op.contains]: [buildingId] } },
              paranoid: false,
              transaction,
              lock: transaction.LOCK.UPDATE,
            });
            for (const row of rows) {
              const before = uuids(row.getDataValue('deletedBuildingIds'));
              const after = deleted
                ? [...new Set([...before, buildingId])]
                : before.filter((id) => id !== buildingId);
              if (after.length === before.length) continue;
              row.set('deletedBuildingIds', after);
              await row.save({ transaction });
            }
          },
        },
        {
          // A deleted user leaves no membership behind (each removal a project.member_removed caused by
          // the user's event) and owns nothing: ownerId becomes null. Restoring the user gives neither
          // back: who works on a project is decided anew.
          name: 'forget-deleted-users',
          patterns: ['user.deleted'],
          async handle(event, { models, transaction }) {
            const userId = event.aggregateId;
            await models.ProjectMember.update(
              { deletedAt: new Date(), deletionBatchId: event.id },
              { where: { userId }, transaction },
            );
            // deleted projects too: restoring one must not point at the deleted user
            await models.Project.update(
              { ownerId: null },
              { where: { ownerId: userId }, paranoid: false, transaction },
            );
          },
        },
      ],
    }),
  ],
  actions: {
    /** DELETE /projects/{id}/members/{userId}: the membership of that user, soft-deleted. */
    'members.removeUser': {
      roles: MANAGERS,
      params: {
        $$strict: true,
        id: { type: 'string' },
        userId: { type: 'string' },
        expectedVersion: { type: 'number', integer: true, optional: true },
      },
      async handler(this: Service, ctx: Context<RemoveMemberParams>) {
        const { id, userId, expectedVersion } = ctx.params;
        if (!isUuid(userId)) throw fieldError('userId', 'must be a UUID');
        const { data, models } = dataOf(this);
        await data.get('project', id); // 404 for a project the caller may not see
        const row = await models.ProjectMember.findOne({
          attributes: ['id'],
          where: { projectId: id, userId },
        });
        if (!row) throw notFound('Project member', userId);
        return data.remove('member', row.getDataValue('id'), { expectedVersion });
      },
    },
  },
};

export default ProjectsService;
