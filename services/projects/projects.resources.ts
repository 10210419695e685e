import { fieldError } from '../../shared/errors';
import type { Models } from '../../shared/db';
import type { Resource } from '../../shared/data';

export const PROJECT_STATUSES = ['planned', 'active', 'on_hold', 'completed', 'cancelled'] as const;
export const MEMBER_ROLES = ['lead', 'member', 'observer'] as const;

export function projectResources(models: Models): Record<string, Resource> {
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
      startDate: { type: 'date', filter: true, sort: true },
      endDate: { type: 'date', filter: true, sort: true },
      budgetAmount: { type: 'number', min: 0, max: 1e15, filter: true, sort: true },
      budgetCurrency: { type: 'string', maxLength: 3, filter: true },
      ownerId: { type: 'uuid', filter: true },
    },
    search: ['name', 'code'],
    unique: [{ index: 'projects_code_live_uq', fields: ['code'] }],
    parents: [{ model: models.User, title: 'User', foreignKey: 'ownerId' }],
    children: [{ resource: 'member', foreignKey: 'projectId' }],
    prepare(values, { current }) {
      const start = values.startDate ?? current?.startDate;
      const end = values.endDate ?? current?.endDate;
      if (typeof start === 'string' && typeof end === 'string' && end < start) {
        throw fieldError('endDate', 'must not be before startDate');
      }
      if (typeof values.budgetCurrency === 'string' && !/^[A-Z]{3}$/.test(values.budgetCurrency)) {
        throw fieldError('budgetCurrency', 'must be an ISO 4217 code (three capital letters)');
      }
      return Promise.resolve();
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
  };
  return { project, member };
}
