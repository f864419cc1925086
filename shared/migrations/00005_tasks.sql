-- +goose Up
CREATE TABLE tasks (
    id              uuid        PRIMARY KEY,
    project_id      uuid        NOT NULL,
    -- Denormalised from the project so that tenant scoping and the report are one-table queries
    -- (no join to projects); the composite foreign key below keeps it honest.
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title           text        NOT NULL CONSTRAINT tasks_title_check CHECK (char_length(title) BETWEEN 1 AND 200),
    description     text        NULL,
    status          text        NOT NULL DEFAULT 'todo'
        CONSTRAINT tasks_status_check CHECK (status IN ('todo', 'in_progress', 'done')),
    priority        text        NOT NULL DEFAULT 'medium'
        CONSTRAINT tasks_priority_check CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    -- A deleted user leaves their tasks unassigned rather than deleting them.
    assignee_id     uuid        NULL REFERENCES users (id) ON DELETE SET NULL,
    due_date        date        NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz NULL,
    version         integer     NOT NULL DEFAULT 1 CONSTRAINT tasks_version_check CHECK (version >= 1),
    -- A task can only point at a project of its own organization: inserting a task for another
    -- tenant's project fails with a foreign key violation (23503, translated to 404), so a bug in
    -- a service's scoping can't attach tasks across tenants.
    CONSTRAINT tasks_project_id_fkey FOREIGN KEY (organization_id, project_id)
        REFERENCES projects (organization_id, id) ON DELETE CASCADE
);

-- GET /projects/{id}/tasks: keyset pages of a project's live tasks in created order, read
-- straight off the index (no sort, no OFFSET scan).
CREATE INDEX tasks_project_live_keyset_idx ON tasks (project_id, created_at, id) WHERE deleted_at IS NULL;

-- All of a project's tasks including deleted ones: recovering a project undeletes the tasks that
-- went with it (deleted_at = the project's), which the partial index above cannot see, and the
-- ON DELETE CASCADE from projects needs it too.
CREATE INDEX tasks_project_id_idx ON tasks (project_id);

-- Deliberately no plain index on organization_id alone: organizations are only ever soft-deleted
-- by the API, so the ON DELETE CASCADE that would need it runs only in manual clean-ups, where a
-- scan is acceptable; every live-row query by organization uses the partial indexes below.

-- "Tasks assigned to me" (filter=assigneeId||$eq||…) over live tasks.
CREATE INDEX tasks_assignee_live_idx ON tasks (assignee_id) WHERE deleted_at IS NULL;

-- The report's tasksByStatus: SELECT status, count(*) ... WHERE organization_id = $1 AND
-- deleted_at IS NULL GROUP BY status is an index-only scan of this partial index.
CREATE INDEX tasks_organization_status_live_idx ON tasks (organization_id, status) WHERE deleted_at IS NULL;

-- The report's overdueTasks: WHERE organization_id = $1 AND due_date < current_date AND
-- status <> 'done' AND deleted_at IS NULL is a range scan over open tasks only; done tasks,
-- usually the majority, are not in the index at all.
CREATE INDEX tasks_organization_overdue_idx ON tasks (organization_id, due_date)
    WHERE status <> 'done' AND deleted_at IS NULL;

-- +goose Down
DROP TABLE tasks;
