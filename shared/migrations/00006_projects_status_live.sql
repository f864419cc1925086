-- +goose NO TRANSACTION
-- +goose Up
-- The report's projectsByStatus: SELECT status, count(*) ... WHERE organization_id = $1 AND
-- deleted_at IS NULL GROUP BY status. The seed's (organization_id, status) index finds the rows
-- but not deleted_at, so every project was a heap visit (one page each when an organization's
-- projects are spread over the table). Partial on live rows, this one makes it an index-only scan,
-- as tasks_organization_status_live_idx already does for tasks. CONCURRENTLY (hence no
-- transaction) so that applying it to a live database does not block writes to projects.
CREATE INDEX CONCURRENTLY IF NOT EXISTS projects_organization_status_live_idx
    ON projects (organization_id, status) WHERE deleted_at IS NULL;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS projects_organization_status_live_idx;
