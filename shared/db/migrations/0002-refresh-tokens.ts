import type { MigrationContext } from '../migrator';

/*
 * Refresh tokens, stored as SHA-256 hashes (a database leak gives no usable token). Tokens of one
 * login form a family: each refresh replaces the token it used; presenting a replaced token again
 * means it was stolen, and the whole family is revoked.
 */
export async function up({ sql }: MigrationContext): Promise<void> {
  await sql(`
  CREATE TABLE refresh_tokens (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL REFERENCES users (id),
    family_id uuid NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    expires_at timestamptz(3) NOT NULL,
    replaced_at timestamptz(3),
    revoked_at timestamptz(3)
  );
  CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
  CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
  `);
}

export async function down({ sql }: MigrationContext): Promise<void> {
  await sql('DROP TABLE IF EXISTS refresh_tokens');
}
