import { hashPassword, ROLES } from '../../shared/auth';
import { config } from '../../shared/config';
import { fieldError } from '../../shared/errors';
import type { Models } from '../../shared/db';
import type { Resource } from '../../shared/data';

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
      password: { type: 'string', writeOnly: true, maxLength: 256 },
      lastLoginAt: { type: 'datetime', readOnly: true, filter: true, sort: true },
    },
    search: ['name', 'email'],
    unique: [{ index: 'users_email_live_uq', fields: ['email'] }],
    // the password is hashed (argon2id) and never stored, shown, logged or recorded as given
    async prepare(values) {
      if (typeof values.email === 'string') {
        const email = values.email.trim();
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw fieldError('email', 'must be an email address');
        values.email = email;
      }
      if ('password' in values) {
        const password = values.password;
        delete values.password;
        const min = config().auth.passwordMinLength;
        if (typeof password !== 'string' || password.length < min) {
          throw fieldError('password', `must be at least ${min} characters`);
        }
        values.passwordHash = await hashPassword(password);
      }
    },
  };
  return { user };
}
