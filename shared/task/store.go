package task

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/fault"
	"scaleapi/shared/query"
	"scaleapi/shared/resource"
)

// Store is the tasks' persistence; PG implements it. As project.Store: reads answer for live
// tasks and check no tenancy, writes re-check the user's membership in the statement.
type Store interface {
	resource.Reads[Task]
	// ListProject returns the page of project's live tasks that q selects.
	ListProject(ctx context.Context, project uuid.UUID, q *query.Query) (*query.Page, error)
	// Owner returns the organization of task id, live or deleted, or a fault.NotFound error.
	Owner(ctx context.Context, id uuid.UUID) (uuid.UUID, error)
	// Insert stores ts (ID, ProjectID and Fields set) in one statement, all or none, and fills
	// in their organizations, timestamps and versions. It stores nothing and returns a
	// fault.NotFound error when a project is not live in an organization of user's.
	Insert(ctx context.Context, user uuid.UUID, ts []Task) error
	// Update applies p to live task id and returns the result: a fault.Precondition error when
	// cond doesn't hold, a fault.NotFound one when there is no such live task in an
	// organization of user's.
	Update(ctx context.Context, user, id uuid.UUID, cond resource.Condition, p Patch) (Task, error)
	// Delete soft-deletes live task id and returns its organization. Errors as Update's.
	Delete(ctx context.Context, user, id uuid.UUID, cond resource.Condition) (uuid.UUID, error)
	// Recover undeletes task id and returns it; a live task is returned as it is. It returns a
	// fault.Conflict error when the task's project is deleted, and a fault.NotFound one when
	// there is no such task in an organization of user's.
	Recover(ctx context.Context, user, id uuid.UUID) (Task, error)
}

var _ Store = (*PG)(nil)

// errNotFound is the one answer for a task that doesn't exist, is deleted or isn't the
// caller's.
var errNotFound = fault.E(fault.NotFound, "task not found")

// errProjectNotFound answers for a project that doesn't exist, is deleted or isn't the caller's.
var errProjectNotFound = fault.E(fault.NotFound, "project not found")

// errProjectDeleted answers a recover of a task whose project is deleted.
var errProjectDeleted = fault.E(fault.Conflict, "the task's project is deleted; recover the project, which recovers the tasks deleted with it")

// PG is the tasks' SQL, on a pool. Its reads (Get, List, View, Owner) are its
// resource.Table's.
type PG struct {
	resource.Table[Task]
	db resource.DB
}

// NewPG returns a PG over pool.
func NewPG(pool resource.DB) *PG {
	return &PG{Table: resource.NewTable(pool, "tasks", "t", noun, columns, scan, errNotFound), db: pool}
}

// columns are the columns of a Task, in scan order. The due date is rendered by the database
// as YYYY-MM-DD, the form the API uses, whatever the session's DateStyle.
const columns = `id, project_id, organization_id, title, description, status, priority, assignee_id,
	to_char(due_date, 'YYYY-MM-DD'), created_at, updated_at, version`

// scan reads one row of columns.
func scan(row pgx.Row) (Task, error) {
	var t Task
	err := row.Scan(&t.ID, &t.ProjectID, &t.OrganizationID, &t.Title, &t.Description, &t.Status, &t.Priority,
		&t.AssigneeID, &t.DueDate, &t.CreatedAt, &t.UpdatedAt, &t.Version)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

// projectScope is the scope of GET /projects/{id}/tasks, served by the partial index
// tasks_project_live_keyset_idx. The service has checked that the caller may read the project.
const projectScope = "t.project_id = $1 AND t.deleted_at IS NULL"

// ListProject implements Store.
func (s *PG) ListProject(ctx context.Context, project uuid.UUID, q *query.Query) (*query.Page, error) {
	return s.ListWhere(ctx, q, projectScope, project)
}

// insertTasks inserts any number of tasks in one statement, from one array per column. target
// is the set of named projects that are live and in an organization the user is a member of,
// share-locked so that none can be deleted until this transaction ends (a project's delete
// takes a conflicting lock on its row first). Unless every named project is in target, no row
// is inserted. organization_id comes from the project, and the composite foreign key
// (organization_id, project_id) would refuse any other.
const insertTasks = `
WITH target AS (
	SELECT p.id, p.organization_id FROM projects p
	WHERE p.id = ANY($2::uuid[]) AND p.deleted_at IS NULL
		AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = p.organization_id AND m.user_id = $9)
	FOR SHARE OF p
)
INSERT INTO tasks (id, project_id, organization_id, title, description, status, priority, assignee_id, due_date)
SELECT u.id, u.project_id, t.organization_id, u.title, u.description, u.status, u.priority, u.assignee_id, u.due_date
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::date[])
	AS u (id, project_id, title, description, status, priority, assignee_id, due_date)
JOIN target t ON t.id = u.project_id
WHERE (SELECT count(*) FROM target) = (SELECT count(DISTINCT x) FROM unnest($2::uuid[]) AS x)
RETURNING id, organization_id, created_at, updated_at, version`

// Insert implements Store.
func (s *PG) Insert(ctx context.Context, user uuid.UUID, ts []Task) error {
	n := len(ts)
	ids, projects := make([]uuid.UUID, n), make([]uuid.UUID, n)
	titles, descriptions := make([]string, n), make([]*string, n)
	statuses, priorities := make([]string, n), make([]string, n)
	// Nullable uuids travel as text: pgx encodes []uuid.UUID but not a slice of pointers.
	assignees, dues := make([]*string, n), make([]*string, n)
	for i, t := range ts {
		ids[i], projects[i], titles[i], descriptions[i] = t.ID, t.ProjectID, t.Title, t.Description
		statuses[i], priorities[i], dues[i] = string(t.Status), string(t.Priority), t.DueDate
		if t.AssigneeID != nil {
			a := t.AssigneeID.String()
			assignees[i] = &a
		}
	}
	return s.BulkInsert(ctx, ts, errProjectNotFound, scanInserted, stampInserted,
		insertTasks, ids, projects, titles, descriptions, statuses, priorities, assignees, dues, user)
}

// scanInserted reads one row of insertTasks' RETURNING list.
func scanInserted(rows pgx.Rows) (Task, error) {
	var t Task
	err := rows.Scan(&t.ID, &t.OrganizationID, &t.CreatedAt, &t.UpdatedAt, &t.Version)
	return t, err
}

// stampInserted copies onto t what the database set on inserting it: its organization, the
// project's.
func stampInserted(t *Task, row Task) {
	t.OrganizationID, t.CreatedAt, t.UpdatedAt, t.Version = row.OrganizationID, row.CreatedAt.UTC(), row.UpdatedAt.UTC(), row.Version
}

// updateTask applies a patch. A NULL project, title, status or priority leaves the column as it
// is (none can be cleared); the nullable columns have a flag saying whether they are being set.
// A task moving to another project needs that project live, in the task's organization (the
// composite foreign key says so too) and share-locked, as an insert does.
const updateTask = `
UPDATE tasks t SET
	project_id = coalesce($13::uuid, t.project_id),
	title = coalesce($4::text, t.title),
	description = CASE WHEN $5::bool THEN $6::text ELSE t.description END,
	status = coalesce($7::text, t.status),
	priority = coalesce($8::text, t.priority),
	assignee_id = CASE WHEN $9::bool THEN $10::uuid ELSE t.assignee_id END,
	due_date = CASE WHEN $11::bool THEN $12::date ELSE t.due_date END,
	updated_at = now(),
	version = t.version + 1
WHERE t.id = $1 AND t.deleted_at IS NULL
	AND ($3::int[] IS NULL OR t.version = ANY($3::int[]))
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = t.organization_id AND m.user_id = $2)
	AND ($13::uuid IS NULL OR EXISTS (
		SELECT 1 FROM projects p
		WHERE p.id = $13::uuid AND p.organization_id = t.organization_id AND p.deleted_at IS NULL
		FOR SHARE))
RETURNING ` + columns

// Update implements Store.
func (s *PG) Update(ctx context.Context, user, id uuid.UUID, cond resource.Condition, p Patch) (Task, error) {
	t, err := scan(s.db.QueryRow(ctx, updateTask, id, user, cond.Arg(), p.Title.Ptr(),
		p.Description.Set, p.Description.Ptr(), p.Status.Ptr(), p.Priority.Ptr(),
		p.AssigneeID.Set, p.assignee, p.DueDate.Set, p.DueDate.Ptr(), p.project))
	if err != nil {
		return Task{}, fmt.Errorf("update task: %w", s.Explain(ctx, s.db, id, cond, err))
	}
	return t, nil
}

const deleteTask = `
UPDATE tasks t SET deleted_at = now(), updated_at = now(), version = t.version + 1
WHERE t.id = $1 AND t.deleted_at IS NULL
	AND ($3::int[] IS NULL OR t.version = ANY($3::int[]))
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = t.organization_id AND m.user_id = $2)
RETURNING t.organization_id`

// Delete implements Store.
func (s *PG) Delete(ctx context.Context, user, id uuid.UUID, cond resource.Condition) (uuid.UUID, error) {
	var org uuid.UUID
	if err := s.db.QueryRow(ctx, deleteTask, id, user, cond.Arg()).Scan(&org); err != nil {
		return uuid.Nil, fmt.Errorf("delete task: %w", s.Explain(ctx, s.db, id, cond, err))
	}
	return org, nil
}

// recoverTask undeletes the task if its project is live. A concurrent delete of the project
// still catches it: the project's delete updates its tasks in a later statement, whose snapshot
// sees this one once committed.
const recoverTask = `
UPDATE tasks t SET deleted_at = NULL, updated_at = now(), version = t.version + 1
WHERE t.id = $1 AND t.deleted_at IS NOT NULL
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = t.organization_id AND m.user_id = $2)
	AND EXISTS (SELECT 1 FROM projects p WHERE p.id = t.project_id AND p.deleted_at IS NULL)
RETURNING ` + columns

// taskState explains a recover that changed nothing: is the task live, is its project deleted?
const taskState = `
SELECT t.deleted_at IS NULL, p.deleted_at IS NOT NULL
FROM tasks t JOIN projects p ON p.id = t.project_id
WHERE t.id = $1
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = t.organization_id AND m.user_id = $2)`

// Recover implements Store.
func (s *PG) Recover(ctx context.Context, user, id uuid.UUID) (Task, error) {
	t, err := scan(s.db.QueryRow(ctx, recoverTask, id, user))
	if errors.Is(err, pgx.ErrNoRows) {
		var live, projectDeleted bool
		if err = s.db.QueryRow(ctx, taskState, id, user).Scan(&live, &projectDeleted); err == nil {
			switch {
			case live:
				return s.Get(ctx, id)
			case projectDeleted:
				err = errProjectDeleted
			default:
				// Recovered and deleted again between the two statements: the client can retry.
				err = fault.E(fault.Conflict, "the task changed while it was being recovered; retry")
			}
		}
	}
	if err != nil {
		return Task{}, fmt.Errorf("recover task: %w", s.NotFound(err))
	}
	return t, nil
}
