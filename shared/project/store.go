package project

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/resource"
)

// Store is the projects' persistence; PG implements it. Reads answer for live projects only and
// check no tenancy (Service does). Writes take the user and check, in the statement itself,
// that they are a member of the project's organization (an admin or owner for Delete and
// Recover): the Service has already checked through the cached memberships, and the statement
// makes sure a permission withdrawn a moment ago is not acted on.
type Store interface {
	resource.Reads[Project]
	// Owner returns the organization of project id, live or deleted, or a fault.NotFound
	// error.
	Owner(ctx context.Context, id uuid.UUID) (uuid.UUID, error)
	// Insert stores ps (ID, OrganizationID and Fields set) in one statement, all or none, and
	// fills in their timestamps and versions. It stores nothing and returns a fault.NotFound
	// error when user is not a member of one of their organizations.
	Insert(ctx context.Context, user uuid.UUID, ps []Project) error
	// Update applies p to live project id and returns the result. It returns a
	// fault.Precondition error when cond doesn't hold and a fault.NotFound one when there is
	// no such live project in an organization of user's.
	Update(ctx context.Context, user, id uuid.UUID, cond resource.Condition, p Patch) (Project, error)
	// Delete soft-deletes live project id and its live tasks, in one transaction, and returns
	// the project's organization and the deleted tasks' ids. Errors as Update's.
	Delete(ctx context.Context, user, id uuid.UUID, cond resource.Condition) (org uuid.UUID, tasks []uuid.UUID, err error)
	// Recover undeletes project id and the tasks that were deleted with it and returns the
	// project and those tasks' ids; a live project is returned as it is. It returns a
	// fault.NotFound error when there is no such project in an organization where user is an
	// admin or owner.
	Recover(ctx context.Context, user, id uuid.UUID) (Project, []uuid.UUID, error)
}

var _ Store = (*PG)(nil)

// errNotFound is the one answer for a project that doesn't exist, is deleted or isn't the
// caller's.
var errNotFound = fault.E(fault.NotFound, "project not found")

// PG is the projects' SQL, on a pool. Every statement is a constant next to the method that
// runs it, and every value is bound. Its reads (Get, List, View, Owner) are its
// resource.Table's.
type PG struct {
	resource.Table[Project]
	db resource.DB
}

// NewPG returns a PG over pool.
func NewPG(pool resource.DB) *PG {
	return &PG{Table: resource.NewTable(pool, "projects", "p", "project", columns, scan, errNotFound), db: pool}
}

// columns are the columns of a Project, in scan order.
const columns = `id, organization_id, name, description, status, created_at, updated_at, version`

// scan reads one row of columns.
func scan(row pgx.Row) (Project, error) {
	var p Project
	err := row.Scan(&p.ID, &p.OrganizationID, &p.Name, &p.Description, &p.Status, &p.CreatedAt, &p.UpdatedAt, &p.Version)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

// getProject reads a live project inside Recover's transaction.
const getProject = `SELECT ` + columns + ` FROM projects WHERE id = $1 AND deleted_at IS NULL`

// insertProjects inserts any number of projects in one statement, from one array per column:
// one round trip, and atomic without a transaction. The WHERE is the membership guard: if the
// user is not a member of every organization named, no row is inserted.
const insertProjects = `
INSERT INTO projects (id, organization_id, name, description, status)
SELECT u.id, u.organization_id, u.name, u.description, u.status
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[])
	AS u (id, organization_id, name, description, status)
WHERE NOT EXISTS (
	SELECT 1 FROM unnest($2::uuid[]) AS o (id)
	WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id AND m.user_id = $6))
RETURNING id, created_at, updated_at, version`

// Insert implements Store.
func (s *PG) Insert(ctx context.Context, user uuid.UUID, ps []Project) error {
	n := len(ps)
	ids, orgs := make([]uuid.UUID, n), make([]uuid.UUID, n)
	names, descriptions, statuses := make([]string, n), make([]*string, n), make([]string, n)
	for i, p := range ps {
		ids[i], orgs[i], names[i], descriptions[i], statuses[i] = p.ID, p.OrganizationID, p.Name, p.Description, string(p.Status)
	}
	return s.BulkInsert(ctx, ps, errOrganizationNotFound, scanInserted, stampInserted,
		insertProjects, ids, orgs, names, descriptions, statuses, user)
}

// scanInserted reads one row of insertProjects' RETURNING list.
func scanInserted(rows pgx.Rows) (Project, error) {
	var p Project
	err := rows.Scan(&p.ID, &p.CreatedAt, &p.UpdatedAt, &p.Version)
	return p, err
}

// stampInserted copies onto p what the database set on inserting it.
func stampInserted(p *Project, row Project) {
	p.CreatedAt, p.UpdatedAt, p.Version = row.CreatedAt.UTC(), row.UpdatedAt.UTC(), row.Version
}

// errOrganizationNotFound answers a create in an organization the caller is not a member of.
var errOrganizationNotFound = fault.E(fault.NotFound, "organization not found")

// updateProject applies a patch: a NULL name or status leaves the column as it is (neither can
// be cleared), and $5 says whether the description is being set, since NULL is a value it can
// be set to.
const updateProject = `
UPDATE projects p SET
	name = coalesce($4::text, p.name),
	description = CASE WHEN $5::bool THEN $6::text ELSE p.description END,
	status = coalesce($7::text, p.status),
	updated_at = now(),
	version = p.version + 1
WHERE p.id = $1 AND p.deleted_at IS NULL
	AND ($3::int[] IS NULL OR p.version = ANY($3::int[]))
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = p.organization_id AND m.user_id = $2)
RETURNING ` + columns

// Update implements Store.
func (s *PG) Update(ctx context.Context, user, id uuid.UUID, cond resource.Condition, p Patch) (Project, error) {
	out, err := scan(s.db.QueryRow(ctx, updateProject, id, user, cond.Arg(),
		p.Name.Ptr(), p.Description.Set, p.Description.Ptr(), p.Status.Ptr()))
	if err != nil {
		return Project{}, fmt.Errorf("update project: %w", s.Explain(ctx, s.db, id, cond, err))
	}
	return out, nil
}

// deleteProject soft-deletes the project if the user is an admin or owner of its organization.
const deleteProject = `
UPDATE projects p SET deleted_at = now(), updated_at = now(), version = p.version + 1
WHERE p.id = $1 AND p.deleted_at IS NULL
	AND ($3::int[] IS NULL OR p.version = ANY($3::int[]))
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = p.organization_id AND m.user_id = $2
		AND m.role IN ('owner', 'admin'))
RETURNING p.organization_id`

// deleteProjectTasks gives the project's live tasks the project's deleted_at (now() is the
// transaction's start time, the same in both statements), which is how Recover finds them. It
// is a statement of its own, after deleteProject has locked the project's row, so that its
// snapshot includes every task inserted before the lock: inserting a task takes a share lock
// on its project's row (see package task), so none can be added after.
const deleteProjectTasks = `
UPDATE tasks SET deleted_at = now(), updated_at = now(), version = version + 1
WHERE project_id = $1 AND deleted_at IS NULL
RETURNING id`

// Delete implements Store.
func (s *PG) Delete(ctx context.Context, user, id uuid.UUID, cond resource.Condition) (uuid.UUID, []uuid.UUID, error) {
	var (
		org   uuid.UUID
		tasks []uuid.UUID
	)
	err := db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, deleteProject, id, user, cond.Arg()).Scan(&org); err != nil {
			return s.Explain(ctx, tx, id, cond, err)
		}
		var err error
		tasks, err = ids(tx.Query(ctx, deleteProjectTasks, id))
		return err
	})
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("delete project: %w", db.Translate(err))
	}
	return org, tasks, nil
}

// lockProject locks the project's row for Recover, and says whether it is deleted, if the user
// is an admin or owner of its organization.
const lockProject = `
SELECT p.deleted_at IS NOT NULL FROM projects p
WHERE p.id = $1
	AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = p.organization_id AND m.user_id = $2
		AND m.role IN ('owner', 'admin'))
FOR NO KEY UPDATE OF p`

// recoverProjectTasks undeletes the tasks deleted with the project: those whose deleted_at is
// the project's, read from the project's row before recoverProject clears it.
const recoverProjectTasks = `
UPDATE tasks t SET deleted_at = NULL, updated_at = now(), version = t.version + 1
FROM projects p
WHERE p.id = $1 AND t.project_id = p.id AND t.deleted_at = p.deleted_at
RETURNING t.id`

const recoverProject = `
UPDATE projects SET deleted_at = NULL, updated_at = now(), version = version + 1
WHERE id = $1
RETURNING ` + columns

// Recover implements Store.
func (s *PG) Recover(ctx context.Context, user, id uuid.UUID) (Project, []uuid.UUID, error) {
	var (
		p     Project
		tasks []uuid.UUID
	)
	err := db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var deleted bool
		if err := tx.QueryRow(ctx, lockProject, id, user).Scan(&deleted); err != nil {
			return s.NotFound(err)
		}
		var err error
		if !deleted {
			p, err = scan(tx.QueryRow(ctx, getProject, id))
			return err
		}
		if tasks, err = ids(tx.Query(ctx, recoverProjectTasks, id)); err != nil {
			return err
		}
		p, err = scan(tx.QueryRow(ctx, recoverProject, id))
		return err
	})
	if err != nil {
		return Project{}, nil, fmt.Errorf("recover project: %w", db.Translate(err))
	}
	return p, tasks, nil
}

// ids collects a one-column result of uuids.
func ids(rows pgx.Rows, err error) ([]uuid.UUID, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
}
