import { MANAGERS } from './roles';

/*
 * API.md: a project is visible only to its members, its owner, managers and admins. Defined once here
 * and used where project data is served: the projects service (projects and members, through the data
 * mechanism's `visibility`) and the event log (project and membership events).
 */

/** Managers and admins see every project. */
export const seesAllProjects = (role: string | undefined) => MANAGERS.some((r) => r === role);

/** SQL: the ids of the projects `userId` may see (owner or live member); `quote` escapes a literal. */
export function visibleProjectIdsSql(quote: (value: string) => string, userId: string): string {
  const user = quote(userId);
  return `(SELECT p.id FROM projects p WHERE p.owner_id::text = ${user}
    UNION SELECT m.project_id FROM project_members m WHERE m.user_id::text = ${user} AND m.deleted_at IS NULL)`;
}

/** SQL over domain_events: true for events `userId` may see (every event but other people's projects'). */
export function visibleEventsSql(quote: (value: string) => string, userId: string): string {
  return `(aggregate_type NOT IN ('project', 'project_member') OR
    (CASE WHEN aggregate_type = 'project' THEN aggregate_id ELSE (data->'state'->>'projectId')::uuid END)
      IN ${visibleProjectIdsSql(quote, userId)})`;
}
