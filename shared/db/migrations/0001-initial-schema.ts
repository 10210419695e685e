import type { MigrationContext } from '../migrator';

/*
 * Every entity table has the same audit / soft-delete / locking columns (written by the shared entity
 * hooks, shared/db/entity.ts). Timestamps are millisecond precision: JavaScript dates carry no more, and
 * keyset cursors compare them for equality.
 * "Unique among live rows" rules are partial unique indexes WHERE deleted_at IS NULL, so a soft-deleted
 * code can be reused and restoring into a clash fails with a unique violation.
 */
const ENTITY_COLUMNS = `
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  version integer NOT NULL DEFAULT 0,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  updated_at timestamptz(3) NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  updated_by text NOT NULL,
  deleted_at timestamptz(3),
  deleted_by text,
  deletion_batch_id uuid,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object')`;

/** Indexes every entity table wants: newest-first listing, the deletion batch of a restore. */
const entityIndexes = (table: string) => `
  CREATE INDEX ${table}_created_idx ON ${table} (created_at DESC, id DESC) WHERE deleted_at IS NULL;
  CREATE INDEX ${table}_batch_idx ON ${table} (deletion_batch_id) WHERE deletion_batch_id IS NOT NULL;
  CREATE INDEX ${table}_metadata_idx ON ${table} USING gin (metadata jsonb_path_ops);`;

export async function up({ sql }: MigrationContext): Promise<void> {
  await sql(`
  CREATE EXTENSION IF NOT EXISTS postgis;
  CREATE EXTENSION IF NOT EXISTS pg_trgm;

  CREATE TABLE buildings (${ENTITY_COLUMNS},
    name text NOT NULL,
    code text NOT NULL,
    address text,
    status text NOT NULL DEFAULT 'planned'
      CHECK (status IN ('planned','under_construction','active','inactive','decommissioned')),
    location geography(Point, 4326),
    footprint geometry(Polygon, 4326),
    year_built integer,
    gross_area double precision CHECK (gross_area >= 0)
  );
  CREATE UNIQUE INDEX buildings_code_live_uq ON buildings (code) WHERE deleted_at IS NULL;
  CREATE INDEX buildings_location_gix ON buildings USING gist (location);
  -- bbox filters compare in plain lng/lat (geometry), not on the sphere
  CREATE INDEX buildings_location_geom_gix ON buildings USING gist ((location::geometry));
  CREATE INDEX buildings_footprint_gix ON buildings USING gist (footprint);
  CREATE INDEX buildings_name_trgm ON buildings USING gin (name gin_trgm_ops);
  ${entityIndexes('buildings')}

  CREATE TABLE floors (${ENTITY_COLUMNS},
    building_id uuid NOT NULL REFERENCES buildings (id),
    name text NOT NULL,
    level integer NOT NULL,
    elevation double precision,
    height double precision CHECK (height > 0),
    outline geometry(Polygon, 4326)
  );
  CREATE UNIQUE INDEX floors_level_live_uq ON floors (building_id, level) WHERE deleted_at IS NULL;
  CREATE INDEX floors_building_idx ON floors (building_id);
  CREATE INDEX floors_outline_gix ON floors USING gist (outline);
  ${entityIndexes('floors')}

  CREATE TABLE rooms (${ENTITY_COLUMNS},
    floor_id uuid NOT NULL REFERENCES floors (id),
    building_id uuid NOT NULL REFERENCES buildings (id),
    name text NOT NULL,
    number text NOT NULL,
    type text,
    capacity integer CHECK (capacity >= 0),
    geometry geometry(Polygon, 4326),
    -- square metres on the WGS 84 spheroid, kept by PostgreSQL itself: never stale, never writable
    area double precision GENERATED ALWAYS AS (ST_Area(geometry::geography)) STORED
  );
  CREATE UNIQUE INDEX rooms_number_live_uq ON rooms (floor_id, number) WHERE deleted_at IS NULL;
  CREATE INDEX rooms_floor_idx ON rooms (floor_id);
  CREATE INDEX rooms_building_idx ON rooms (building_id);
  CREATE INDEX rooms_geometry_gix ON rooms USING gist (geometry);
  ${entityIndexes('rooms')}

  CREATE TABLE users (${ENTITY_COLUMNS},
    email text NOT NULL,
    name text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin','manager','technician','viewer')),
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),
    password_hash text,
    last_login_at timestamptz(3)
  );
  CREATE UNIQUE INDEX users_email_live_uq ON users (lower(email)) WHERE deleted_at IS NULL;
  ${entityIndexes('users')}

  CREATE TABLE devices (${ENTITY_COLUMNS},
    name text NOT NULL,
    type text NOT NULL
      CHECK (type IN ('sensor','actuator','hvac','lighting','meter','camera','access_control','gateway','other')),
    manufacturer text,
    model text,
    serial_number text NOT NULL,
    firmware_version text,
    room_id uuid REFERENCES rooms (id),
    floor_id uuid REFERENCES floors (id),
    building_id uuid REFERENCES buildings (id),
    location geography(Point, 4326),
    status text NOT NULL DEFAULT 'planned'
      CHECK (status IN ('planned','installed','active','maintenance','faulty','decommissioned')),
    installed_at timestamptz(3),
    last_seen_at timestamptz(3)
  );
  CREATE UNIQUE INDEX devices_serial_live_uq ON devices (serial_number) WHERE deleted_at IS NULL;
  CREATE INDEX devices_room_idx ON devices (room_id);
  CREATE INDEX devices_building_idx ON devices (building_id);
  CREATE INDEX devices_status_idx ON devices (status);
  CREATE INDEX devices_last_seen_idx ON devices (last_seen_at);
  CREATE INDEX devices_location_gix ON devices USING gist (location);
  CREATE INDEX devices_location_geom_gix ON devices USING gist ((location::geometry));
  ${entityIndexes('devices')}

  CREATE TABLE projects (${ENTITY_COLUMNS},
    name text NOT NULL,
    code text NOT NULL,
    description text,
    status text NOT NULL DEFAULT 'planned'
      CHECK (status IN ('planned','active','on_hold','completed','cancelled')),
    building_ids uuid[] NOT NULL DEFAULT '{}',
    start_date date,
    end_date date,
    budget_amount numeric(18, 2) CHECK (budget_amount >= 0),
    budget_currency char(3) CHECK (budget_currency ~ '^[A-Z]{3}$'),
    owner_id uuid REFERENCES users (id),
    CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date),
    CHECK ((budget_amount IS NULL) = (budget_currency IS NULL))
  );
  CREATE UNIQUE INDEX projects_code_live_uq ON projects (code) WHERE deleted_at IS NULL;
  CREATE INDEX projects_buildings_idx ON projects USING gin (building_ids);
  CREATE INDEX projects_owner_idx ON projects (owner_id);
  ${entityIndexes('projects')}

  CREATE TABLE project_members (${ENTITY_COLUMNS},
    project_id uuid NOT NULL REFERENCES projects (id),
    user_id uuid NOT NULL REFERENCES users (id),
    role text NOT NULL CHECK (role IN ('lead','member','observer'))
  );
  CREATE UNIQUE INDEX project_members_live_uq ON project_members (project_id, user_id) WHERE deleted_at IS NULL;
  CREATE INDEX project_members_user_idx ON project_members (user_id);
  ${entityIndexes('project_members')}

  -- one row per changed entity row, written in the same transaction as the change
  CREATE TABLE change_records (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    entity_type text NOT NULL,
    entity_id uuid NOT NULL,
    action text NOT NULL CHECK (action IN ('create','update','delete','restore')),
    actor text NOT NULL,
    request_id text,
    at timestamptz(3) NOT NULL DEFAULT now(),
    changes jsonb NOT NULL
  );
  CREATE INDEX change_records_entity_idx ON change_records (entity_type, entity_id, at DESC, id DESC);

  -- append-only domain event log; position is the global read order (see shared/events)
  CREATE TABLE domain_events (
    position bigserial PRIMARY KEY,
    id uuid NOT NULL UNIQUE,
    type text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id uuid NOT NULL,
    aggregate_version integer NOT NULL,
    occurred_at timestamptz(3) NOT NULL DEFAULT now(),
    actor text NOT NULL,
    request_id text,
    causation_id text,
    schema_version integer NOT NULL DEFAULT 1,
    data jsonb NOT NULL,
    UNIQUE (aggregate_id, aggregate_version)
  );
  CREATE INDEX domain_events_type_idx ON domain_events (type, position);
  CREATE INDEX domain_events_aggregate_type_idx ON domain_events (aggregate_type, position);

  -- transactional outbox: rows written with the change, published by the relay, marked sent on confirm
  CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    event_id uuid NOT NULL REFERENCES domain_events (id),
    aggregate_id uuid NOT NULL,
    routing_key text NOT NULL,
    payload jsonb NOT NULL,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz(3) NOT NULL DEFAULT now(),
    last_error text,
    sent_at timestamptz(3)
  );
  CREATE INDEX outbox_pending_idx ON outbox (id) WHERE sent_at IS NULL;

  -- idempotent consumers: one row per (event, consumer), written with the consumer's effect
  CREATE TABLE inbox (
    event_id uuid NOT NULL,
    consumer text NOT NULL,
    processed_at timestamptz(3) NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, consumer)
  );
  `);
}

export async function down({ sql }: MigrationContext): Promise<void> {
  await sql(`
  DROP TABLE IF EXISTS inbox, outbox, domain_events, change_records, project_members, projects,
    devices, users, rooms, floors, buildings;
  `);
}
