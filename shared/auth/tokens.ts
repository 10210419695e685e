import { createHash, createSecretKey, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import argon2 from 'argon2';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import { unauthorized } from '../errors';

export const ROLES = ['admin', 'manager', 'technician', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export const isRole = (v: unknown): v is Role => typeof v === 'string' && ROLES.some((r) => r === v);

/** Who is calling, as `ctx.meta.user` carries it through every RPC and event. */
export interface AuthUser {
  id: string;
  role: Role;
  email: string;
}

// OWASP's minimum for argon2id: 19 MiB, 2 iterations, 1 lane
const ARGON2 = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string) => argon2.hash(password, ARGON2);

export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  // no hash (never set): still spend the time a check costs, so timing does not tell who exists
  if (!hash) {
    await argon2.hash(password, ARGON2);
    return false;
  }
  return argon2.verify(hash, password);
}

/** The algorithm is pinned: a token naming another (`none`, RS256...) is refused before its signature is read. */
const ALGORITHM = 'HS256';

/*
 * The secret as a KeyObject, made once: given a string, jsonwebtoken first tries to read it as a
 * public key on every call (an exception each time), which cost ~15% of the gateway's CPU.
 */
const keys = new Map<string, KeyObject>();
const keyOf = (secret: string): KeyObject => {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    keys.set(secret, key);
  }
  return key;
};

export function signAccessToken(user: AuthUser, cfg: Config['auth']): string {
  return jwt.sign({ role: user.role, email: user.email }, keyOf(cfg.jwtSecret), {
    algorithm: ALGORITHM,
    subject: user.id,
    issuer: cfg.issuer,
    audience: cfg.audience,
    expiresIn: cfg.accessTtlS,
    jwtid: randomUUID(),
  });
}

/** Verifies signature, algorithm, `iss`, `aud` and `exp`; the subject is the user id. */
export function verifyAccessToken(token: string, cfg: Config['auth']): { sub: string } {
  try {
    const payload = jwt.verify(token, keyOf(cfg.jwtSecret), {
      algorithms: [ALGORITHM],
      issuer: cfg.issuer,
      audience: cfg.audience,
    });
    if (typeof payload === 'string' || typeof payload.sub !== 'string') throw new Error('no subject');
    return { sub: payload.sub };
  } catch (err) {
    const expired = err instanceof jwt.TokenExpiredError;
    throw unauthorized(
      expired ? 'The access token has expired; refresh it' : 'The access token is not valid',
    );
  }
}

/** An opaque refresh token (256 random bits) and the hash it is stored under. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashRefreshToken(token) };
}

export const hashRefreshToken = (token: string) => createHash('sha256').update(token).digest('hex');
