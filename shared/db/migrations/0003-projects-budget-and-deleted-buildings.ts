import type { MigrationContext } from '../migrator';

/*
 * Projects as API.md shows them: `budget {amount, currency}` is one JSON value (amount and currency
 * change together), and `deletedBuildingIds` lists the referenced buildings that are soft-deleted
 * (kept by the projects service from building events; a restore removes the id again).
 */
export async function up({ sql }: MigrationContext): Promise<void> {
  await sql(`
  ALTER TABLE projects ADD COLUMN budget jsonb
    CHECK (budget IS NULL OR (jsonb_typeof(budget->'amount') = 'number' AND (budget->>'amount')::numeric >= 0
      AND budget->>'currency' ~ '^[A-Z]{3}$'));
  UPDATE projects SET budget = jsonb_build_object('amount', budget_amount, 'currency', budget_currency)
    WHERE budget_amount IS NOT NULL;
  ALTER TABLE projects DROP COLUMN budget_amount, DROP COLUMN budget_currency;
  ALTER TABLE projects ADD COLUMN deleted_building_ids uuid[] NOT NULL DEFAULT '{}';
  `);
}

export async function down({ sql }: MigrationContext): Promise<void> {
  await sql(`
  ALTER TABLE projects ADD COLUMN budget_amount numeric(18, 2) CHECK (budget_amount >= 0),
    ADD COLUMN budget_currency char(3) CHECK (budget_currency ~ '^[A-Z]{3}$');
  UPDATE projects SET budget_amount = (budget->>'amount')::numeric, budget_currency = budget->>'currency'
    WHERE budget IS NOT NULL;
  ALTER TABLE projects DROP COLUMN budget, DROP COLUMN deleted_building_ids;
  `);
}
