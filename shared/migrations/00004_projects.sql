-- +goose Up
CREATE TABLE projects (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            text        NOT NULL CONSTRAINT projects_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    description     text        NULL CONSTRAINT projects_description_check CHECK (char_length(description) <= 5000),
    status          text        NOT NULL DEFAULT 'planning'
        CONSTRAINT projects_status_check CHECK (status IN ('planning', 'active', 'on_hold', 'completed', 'archived')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz NULL,
    version         integer     NOT NULL DEFAULT 1 CONSTRAINT projects_version_check CHECK (version >= 1),
    -- Target of tasks' composite foreign key (organization_id, project_id): it lets the database,
    -- not only the service, guarantee that a task's denormalised organization_id is its project's.
    -- Its index also answers keyset pages ordered by id within one organization (UUIDv7 ids sort
    -- by creation time, so "ORDER BY id" is the cheapest stable default order) and the
    -- tenant-scoped lookup WHERE organization_id = $1 AND id = $2.
    CONSTRAINT projects_organization_id_id_key UNIQUE (organization_id, id)
);

-- The seed's three indexes, kept so that every query the seed could run fast still runs fast:
-- (organization_id): all of an organization's rows, including deleted ones (recover, counts for
-- the admin, the ON DELETE CASCADE from organizations), in the smallest index that has them.
CREATE INDEX projects_organization_id_idx ON projects (organization_id);
-- (created_at): ordering by creation time across organizations (a caller in several
-- organizations listing with sort=createdAt) and time-range filters on createdAt.
CREATE INDEX projects_created_at_idx ON projects (created_at);
-- (organization_id, status): filter=status||$eq||… within an organization, and the report's
-- projects-by-status count.
CREATE INDEX projects_organization_id_status_idx ON projects (organization_id, status);

-- Keyset pagination of live projects in the default created order:
-- WHERE organization_id = $1 AND deleted_at IS NULL AND (created_at, id) > ($2, $3)
-- ORDER BY created_at, id LIMIT n reads exactly n index entries, no OFFSET scan and no sort.
-- Partial, so soft-deleted rows neither bloat it nor get skipped over at read time.
CREATE INDEX projects_live_keyset_idx ON projects (organization_id, created_at, id) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE projects;
