import { Op, type Sequelize, type WhereOptions } from 'sequelize';
import { currentContext } from '../../shared/context';
import { fieldError } from '../../shared/errors';
import type { Models } from '../../shared/db';
import { isUuid, type Resource, type RowErrors } from '../../shared/data';
import { seesAllProjects, visibleProjectIdsSql } from '../../shared/auth';

export const PROJECT_STATUSES = ['planned', 'active', 'on_hold', 'completed', 'cancelled'] as const;
export const MEMBER_ROLES = ['lead', 'member', 'observer'] as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

export function projectResources(models: Models): Record<string, Resource> {
  const sequelize: Sequelize = models.Project.sequelize ?? fail('Project has no sequelize');
  const quote = (v: string) => sequelize.escape(v);
  /** object-level authorization: the projects the user owns or is a member of */
  const visibleIds = (userId: string) => ({
    [Op.in]: sequelize.literal(visibleProjectIdsSql(quote, userId)),
  });

  const project: Resource = {
    name: 'project',
    title: 'Project',
    model: models.Project,
    fields: {
      name: { type: 'string', required: true, maxLength: 200, filter: true, sort: true },
      code: { type: 'string', required: true, maxLength: 50, filter: true, sort: true },
      description: { type: 'string', maxLength: 10000 },
      status: { type: 'enum', values: PROJECT_STATUSES, filter: true, sort: true },
      buildingIds: { type: 'uuid[]' },
      // the referenced buildings that are soft-deleted now (kept from building events)
      deletedBuildingIds: { type: 'uuid[]', readOnly: true },
      startDate: { type: 'date', filter: true, sort: true },
      endDate: { type: 'date', filter: true, sort: true },
      budget: { type: 'money', nullable: true },
      ownerId: { type: 'uuid', filter: true, sort: true },
    },
    search: ['name', 'code'],
    unique: [{ index: 'projects_code_live_uq', fields: ['code'] }],
    parents: [{ model: models.User, title: 'User', foreignKey: 'ownerId' }],
    children: [{ resource: 'member', foreignKey: 'projectId' }],
    visibility: (user): WhereOptions | undefined =>
      seesAllProjects(user.role)
        ? undefined
        : { [Op.or]: [{ ownerId: user.id }, { id: visibleIds(user.id) }] },
    prepare(values, { mode, current }) {
      const start = values.startDate !== undefined ? values.startDate : current?.startDate;
      const end = values.endDate !== undefined ? values.endDate : current?.endDate;
      if (typeof start === 'string' && typeof end === 'string' && end < start) {
        throw fieldError('endDate', 'must not be before startDate');
      }
      // the creator owns a project unless the body names someone
      const actor = currentContext()?.actor;
      if (mode === 'create' && values.ownerId === undefined && isUuid(actor)) {
        values.ownerId = actor;
      }
      return Promise.resolve();
    },
    // every building named must exist: one call to the buildings service for the whole batch
    async prepareMany(rows, { call }) {
      const wanted = [...new Set(rows.flatMap((r) => ids(r.buildingIds)))];
      const found = wanted.length ? await call('buildings.lookup', { ids: wanted }) : {};
      return rows.map((values): RowErrors => {
        if (!Array.isArray(values.buildingIds)) return undefined;
        const missing = ids(values.buildingIds).filter((id) => !isRecord(Reflect.get(Object(found), id)));
        if (missing.length > 0) {
          return [{ field: 'buildingIds', message: `Building ${missing.join(', ')} does not exist` }];
        }
        values.deletedBuildingIds = [];
        return undefined;
      });
    },
  };
  const member: Resource = {
    name: 'project_member',
    title: 'Project member',
    model: models.ProjectMember,
    fields: {
      projectId: { type: 'uuid', required: true, immutable: true, filter: true, sort: true },
      userId: { type: 'uuid', required: true, immutable: true, filter: true, sort: true },
      role: { type: 'enum', values: MEMBER_ROLES, required: true, filter: true, sort: true },
    },
    unique: [{ index: 'project_members_live_uq', fields: ['userId'] }],
    parents: [
      { model: models.Project, title: 'Project', foreignKey: 'projectId' },
      { model: models.User, title: 'User', foreignKey: 'userId' },
    ],
    // the members of the projects the user may see
    visibility: (user): WhereOptions | undefined =>
      seesAllProjects(user.role) ? undefined : { projectId: visibleIds(user.id) },
  };
  return { project, member };
}

function fail(message: string): never {
  throw new Error(message);
}
