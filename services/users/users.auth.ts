import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import {
  hashRefreshToken,
  isRole,
  newRefreshToken,
  signAccessToken,
  verifyPassword,
  type AuthUser,
} from '../../shared/auth';
import type { Cache } from '../../shared/cache';
import type { Config } from '../../shared/config';
import { withTransaction, type EntityModel } from '../../shared/db';
import { rateLimited, unauthorized } from '../../shared/errors';
import { runInContext } from '../../shared/context';

/*
 * Login, refresh-token rotation and logout. Refresh tokens are opaque, stored hashed, and rotate on
 * every use; a token used a second time means someone else has it, so its whole family (every token
 * descended from that login) is revoked.
 */

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
}

interface TokenRow {
  id: string;
  user_id: string;
  family_id: string;
  expires_at: Date;
  replaced_at: Date | null;
  revoked_at: Date | null;
}

export interface AuthDeps {
  sequelize: Sequelize;
  User: EntityModel;
  cache: Cache;
  cfg: Config['auth'];
}

const refused = () => unauthorized('Email or password is wrong');

function authUserOf(row: { getDataValue(k: string): unknown }): AuthUser | undefined {
  const id: unknown = row.getDataValue('id');
  const role: unknown = row.getDataValue('role');
  const email: unknown = row.getDataValue('email');
  return typeof id === 'string' && isRole(role) && typeof email === 'string'
    ? { id, role, email }
    : undefined;
}

async function issue(
  deps: AuthDeps,
  user: AuthUser,
  familyId: string | null,
  t: Transaction,
): Promise<TokenPair> {
  const { token, hash } = newRefreshToken();
  await deps.sequelize.query(
    `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
     VALUES (:user, coalesce(:family, gen_random_uuid()), :hash, now() + make_interval(secs => :ttl))`,
    { replacements: { user: user.id, family: familyId, hash, ttl: deps.cfg.refreshTtlS }, transaction: t },
  );
  return {
    accessToken: signAccessToken(user, deps.cfg),
    refreshToken: token,
    expiresIn: deps.cfg.accessTtlS,
    tokenType: 'Bearer',
  };
}

/** Failed logins are counted per account and per client address, in Redis, across every instance. */
async function throttle(deps: AuthDeps, email: string, clientIp: string) {
  for (const [key, max] of [
    [`login:acct:${email.toLowerCase()}`, deps.cfg.loginMaxFailures],
    [`login:ip:${clientIp}`, deps.cfg.loginMaxFailuresPerIp],
  ] as const) {
    const seen = await deps.cache.peekHits(key);
    if (seen && seen.count >= max) throw rateLimited(seen.resetS);
  }
}

async function failed(deps: AuthDeps, email: string, clientIp: string) {
  await deps.cache.hit(`login:acct:${email.toLowerCase()}`, deps.cfg.loginWindowS);
  await deps.cache.hit(`login:ip:${clientIp}`, deps.cfg.loginWindowS);
}

export async function login(deps: AuthDeps, email: string, password: string, clientIp: string) {
  await throttle(deps, email, clientIp);
  const row = await deps.User.findOne({
    where: deps.sequelize.where(
      deps.sequelize.fn('lower', deps.sequelize.col('email')),
      email.trim().toLowerCase(),
    ),
  });
  const hash: unknown = row?.getDataValue('passwordHash');
  const ok = await verifyPassword(typeof hash === 'string' ? hash : null, password);
  const user = row && ok && row.getDataValue('status') === 'active' ? authUserOf(row) : undefined;
  if (!row || !user) {
    await failed(deps, email, clientIp);
    throw refused();
  }
  await deps.cache.resetHits(`login:acct:${email.toLowerCase()}`);
  return withTransaction(deps.sequelize, async (t) => {
    await runInContext({ actor: user.id, requestId: `login:${user.id}` }, async () => {
      row.setDataValue('lastLoginAt', new Date());
      await row.save({ transaction: t });
    });
    return { ...(await issue(deps, user, null, t)), user };
  });
}

export async function refresh(deps: AuthDeps, refreshToken: string) {
  const hash = hashRefreshToken(refreshToken);
  const outcome = await withTransaction(deps.sequelize, async (t) => {
    const [row] = await deps.sequelize.query<TokenRow>(
      'SELECT * FROM refresh_tokens WHERE token_hash = :hash FOR UPDATE',
      {
        replacements: { hash },
        type: QueryTypes.SELECT,
        transaction: t,
      },
    );
    if (!row || row.revoked_at || row.expires_at.getTime() < Date.now())
      return { error: 'The refresh token is not valid' };
    const revokeFamily = () =>
      deps.sequelize.query(
        'UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = :f AND revoked_at IS NULL',
        {
          replacements: { f: row.family_id },
          transaction: t,
        },
      );
    if (row.replaced_at) {
      // reuse of a rotated token: whoever holds the family, it is no longer safe
      await revokeFamily();
      return { error: 'The refresh token was used already; every token of this login is revoked' };
    }
    const userRow = await deps.User.findByPk(row.user_id, { transaction: t });
    const user = userRow && userRow.getDataValue('status') === 'active' ? authUserOf(userRow) : undefined;
    if (!user) {
      await revokeFamily();
      return { error: 'The account is disabled or gone' };
    }
    await deps.sequelize.query('UPDATE refresh_tokens SET replaced_at = now() WHERE id = :id', {
      replacements: { id: row.id },
      transaction: t,
    });
    return { pair: await issue(deps, user, row.family_id, t) };
  });
  // the revocation above must commit even though the caller gets a 401
  if ('error' in outcome) throw unauthorized(outcome.error);
  return outcome.pair;
}

/** Revokes the token's whole family (this login on every device it was refreshed to). */
export async function logout(deps: AuthDeps, refreshToken: string): Promise<void> {
  await deps.sequelize.query(
    `UPDATE refresh_tokens SET revoked_at = now()
     WHERE revoked_at IS NULL AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = :hash)`,
    { replacements: { hash: hashRefreshToken(refreshToken) } },
  );
}

/** Every token of a user goes (disabled, deleted, role changed by an admin). */
export async function revokeAllOf(sequelize: Sequelize, userId: string, t?: Transaction) {
  await sequelize.query(
    'UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = :u AND revoked_at IS NULL',
    {
      replacements: { u: userId },
      transaction: t,
    },
  );
}
