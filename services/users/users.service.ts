import type { Context, Service, ServiceSchema } from 'moleculer';
import { ADMINS, ALL_ROLES, userOf, verifyPassword } from '../../shared/auth';
import { ArxosCacher } from '../../shared/cache';
import { config } from '../../shared/config';
import { runInContext, SYSTEM_ACTOR } from '../../shared/context';
import { dataOf, dataService } from '../../shared/data';
import { fieldError, forbidden, unauthorized, validationFailed } from '../../shared/errors';
import { login, logout, refresh, revokeAllOf, type AuthDeps } from './users.auth';
import { userResources } from './users.resources';

/**
 * Users, login and tokens. CRUD from the shared mechanism (admins write), with `update` replaced by a
 * version that lets every user change their own name and password (current password required) and
 * only admins change anything else. The checks are here, in the service, so a call over the broker
 * cannot get around them.
 */

/** What a non-admin may change about themselves. */
const SELF_FIELDS = ['name', 'password', 'currentPassword'];

interface UpdateParams {
  id: string;
  data: Record<string, unknown>;
  expectedVersion?: number;
}

function deps(svc: Service): AuthDeps {
  const cacher = svc.broker.cacher;
  if (!(cacher instanceof ArxosCacher))
    throw new Error('the users service needs the Arxos cacher (login throttling)');
  const { database, models } = dataOf(svc);
  return { sequelize: database.sequelize, User: models.User, cache: cacher.cache, cfg: config().auth };
}

const UsersService: ServiceSchema = {
  name: 'users',
  mixins: [
    dataService({
      resources: userResources,
      expose: [
        {
          resource: 'user',
          prefix: '',
          roles: { create: ADMINS, update: ALL_ROLES, remove: ADMINS, restore: ADMINS },
        },
      ],
    }),
  ],
  actions: {
    update: {
      roles: ALL_ROLES,
      params: {
        id: { type: 'string' },
        data: { type: 'object' },
        expectedVersion: { type: 'number', integer: true, optional: true },
      },
      async handler(this: Service, ctx: Context<UpdateParams>) {
        const { data: access, database } = dataOf(this);
        const user = userOf(ctx);
        const body = { ...ctx.params.data };
        if (user && user.role !== 'admin') {
          if (user.id !== ctx.params.id) throw forbidden('only an admin may change another user');
          const refused = Object.keys(body).filter((k) => !SELF_FIELDS.includes(k));
          if (refused.length > 0) {
            throw validationFailed(
              refused.map((field) => ({ field, message: 'only an admin may change it' })),
            );
          }
        }
        const current = body.currentPassword;
        delete body.currentPassword;
        if ('password' in body && user && user.id === ctx.params.id) {
          // changing one's own password needs the current one, admins included
          const row = await dataOf(this).models.User.findByPk(ctx.params.id);
          const hash: unknown = row?.getDataValue('passwordHash');
          const ok =
            typeof current === 'string' &&
            (await verifyPassword(typeof hash === 'string' ? hash : null, current));
          if (!ok) throw fieldError('currentPassword', 'is required and must be the current password');
        } else if (current !== undefined) {
          throw fieldError('currentPassword', 'is only for changing your own password');
        }
        const updated = await access.update('user', ctx.params.id, body, {
          expectedVersion: ctx.params.expectedVersion,
        });
        if ('password' in body || body.status === 'disabled' || 'role' in body) {
          // a new password, a disabled account or another role: every refresh token of the user goes
          await revokeAllOf(database.sequelize, ctx.params.id);
        }
        return updated;
      },
    },
    login: {
      params: {
        email: { type: 'string', max: 254 },
        password: { type: 'string', max: 256 },
        clientIp: { type: 'string', optional: true },
      },
      async handler(this: Service, ctx: Context<{ email: string; password: string; clientIp?: string }>) {
        const { user, ...pair } = await login(
          deps(this),
          ctx.params.email,
          ctx.params.password,
          ctx.params.clientIp ?? 'unknown',
        );
        return { ...pair, user: await dataOf(this).data.get('user', user.id) };
      },
    },
    refresh: {
      params: { refreshToken: { type: 'string', max: 200 } },
      handler(this: Service, ctx: Context<{ refreshToken: string }>) {
        return refresh(deps(this), ctx.params.refreshToken);
      },
    },
    logout: {
      params: { refreshToken: { type: 'string', max: 200 } },
      async handler(this: Service, ctx: Context<{ refreshToken: string }>) {
        await logout(deps(this), ctx.params.refreshToken);
        return null;
      },
    },
    me: {
      roles: ALL_ROLES,
      handler(this: Service, ctx: Context) {
        const user = userOf(ctx);
        if (!user) throw unauthorized();
        return dataOf(this).data.get('user', user.id);
      },
    },
  },
  async started(this: Service) {
    await bootstrapAdmin(this);
  },
};

/**
 * First start with an empty user table: the admin comes from ARXOS_ADMIN_EMAIL/PASSWORD. Several
 * instances starting at once take turns on an advisory lock, so exactly one admin is made.
 */
async function bootstrapAdmin(svc: Service) {
  const { database, models, data } = dataOf(svc);
  const { adminEmail, adminPassword } = config().auth;
  await database.sequelize.transaction(async (t) => {
    await database.sequelize.query("SELECT pg_advisory_xact_lock(hashtext('arxos:bootstrap-admin'))", {
      transaction: t,
    });
    const users = await models.User.count({ paranoid: false, transaction: t });
    if (users > 0) return;
    if (!adminEmail || !adminPassword) {
      svc.logger.warn(
        'There are no users and ARXOS_ADMIN_EMAIL / ARXOS_ADMIN_PASSWORD are not set: nobody can log in. ' +
          'Set both (see .env.example) and restart the users service to create the first admin.',
      );
      return;
    }
    await runInContext({ actor: SYSTEM_ACTOR, requestId: 'bootstrap-admin' }, () =>
      data.create('user', {
        email: adminEmail,
        name: 'Administrator',
        role: 'admin',
        password: adminPassword,
      }),
    );
    svc.logger.info('first admin created from ARXOS_ADMIN_EMAIL', { email: adminEmail });
  });
}

export default UsersService;
