import type { Models } from '../../shared/db';
import type { Resource } from '../../shared/data';

export const ROLES = ['admin', 'manager', 'technician', 'viewer'] as const;

export function userResources(models: Models): Record<string, Resource> {
  const user: Resource = {
    name: 'user',
    title: 'User',
    model: models.User,
    fields: {
      email: { type: 'string', required: true, maxLength: 254, filter: true, sort: true },
      name: { type: 'string', required: true, maxLength: 200, filter: true, sort: true },
      role: { type: 'enum', values: ROLES, required: true, filter: true, sort: true },
      status: { type: 'enum', values: ['active', 'disabled'], filter: true, sort: true },
      passwordHash: { type: 'string', hidden: true },
      lastLoginAt: { type: 'datetime', readOnly: true, filter: true, sort: true },
    },
    search: ['name', 'email'],
    unique: [{ index: 'users_email_live_uq', fields: ['email'] }],
    prepare(values) {
      if (typeof values.email === 'string') values.email = values.email.trim();
      return Promise.resolve();
    },
  };
  return { user };
}
