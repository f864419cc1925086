package organization

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/auth"
	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
)

// PG is the organizations' SQL. It runs on whatever it is given, a pool or a transaction, so the
// Service decides which statements share a transaction. Every statement is a constant next to
// the method that runs it, and every value is bound.
type PG struct {
	db db.DBTX
}

// NewPG returns a PG over conn (a pool, or a transaction).
func NewPG(conn db.DBTX) *PG { return &PG{db: conn} }

// errNotFound is the one answer for an organization that doesn't exist, is deleted, or isn't the
// caller's: the three must look the same.
var errNotFound = fault.E(fault.NotFound, "organization not found")

const insertOrganization = `
INSERT INTO organizations (id, name) VALUES ($1, $2)
RETURNING created_at, updated_at, version`

// Insert stores o (ID and Name set) and fills in its timestamps and version.
func (s *PG) Insert(ctx context.Context, o *Organization) error {
	err := s.db.QueryRow(ctx, insertOrganization, o.ID, o.Name).Scan(&o.CreatedAt, &o.UpdatedAt, &o.Version)
	if err != nil {
		return fmt.Errorf("insert organization: %w", db.Translate(err))
	}
	utc(o)
	return nil
}

const insertMembership = `INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)`

// InsertMembership makes userID a member of orgID with role. It returns a Conflict error when
// the user already is one, and a NotFound error when either doesn't exist.
func (s *PG) InsertMembership(ctx context.Context, orgID, userID uuid.UUID, role auth.Role) error {
	if _, err := s.db.Exec(ctx, insertMembership, orgID, userID, string(role)); err != nil {
		return fmt.Errorf("insert membership: %w", db.Translate(err))
	}
	return nil
}

const organizationByID = `
SELECT id, name, created_at, updated_at, version
FROM organizations
WHERE id = $1 AND deleted_at IS NULL`

// Get returns the live organization id, or a NotFound error.
func (s *PG) Get(ctx context.Context, id uuid.UUID) (*Organization, error) {
	var o Organization
	err := s.db.QueryRow(ctx, organizationByID, id).Scan(&o.ID, &o.Name, &o.CreatedAt, &o.UpdatedAt, &o.Version)
	if err != nil {
		return nil, fmt.Errorf("get organization: %w", notFound(err))
	}
	utc(&o)
	return &o, nil
}

// List runs q over the live organizations userID belongs to. The scope is trusted SQL the
// client can't touch: whatever the filter, a row of another tenant can't match, because the
// membership condition is AND-ed outside the client's expression. The EXISTS is answered from
// the memberships primary key (organization_id, user_id).
func (s *PG) List(ctx context.Context, userID uuid.UUID, q *query.Query) (*query.Page, error) {
	st := q.Build(query.Scope{
		Alias: "o",
		Where: "o.deleted_at IS NULL AND EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id AND m.user_id = $1)",
		Args:  []any{userID},
	})
	rows, err := s.db.Query(ctx, st.List, st.ListArgs...)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", db.Translate(err))
	}
	page, err := q.ReadPage(rows)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", db.Translate(err))
	}
	if page.NeedsTotal() {
		var total int64
		if err := s.db.QueryRow(ctx, st.Count, st.CountArgs...).Scan(&total); err != nil {
			return nil, fmt.Errorf("count organizations: %w", db.Translate(err))
		}
		page.SetTotal(total)
	}
	return page, nil
}

// lockRole locks the live organization's row and returns the role userID holds in it.
// FOR NO KEY UPDATE serialises the writes that must see each other (renames, deletion, removing
// members: two owners removing each other must not both succeed) without blocking the
// KEY SHARE locks that inserting a membership's foreign key takes. The LEFT JOIN tells "no such
// organization" from "not a member" in one round trip, though both end as the same 404.
const lockRole = `
SELECT m.role
FROM organizations o
LEFT JOIN memberships m ON m.organization_id = o.id AND m.user_id = $2
WHERE o.id = $1 AND o.deleted_at IS NULL
FOR NO KEY UPDATE OF o`

// LockRole locks organization orgID for the rest of the transaction and returns userID's role
// there. It returns a NotFound error when the organization doesn't exist, is deleted, or userID
// isn't a member. Call it inside a transaction, first.
func (s *PG) LockRole(ctx context.Context, orgID, userID uuid.UUID) (auth.Role, error) {
	var role *string
	if err := s.db.QueryRow(ctx, lockRole, orgID, userID).Scan(&role); err != nil {
		return "", fmt.Errorf("lock organization: %w", notFound(err))
	}
	if role == nil {
		return "", fmt.Errorf("lock organization: %w", errNotFound)
	}
	return auth.Role(*role), nil
}

const renameOrganization = `
UPDATE organizations
SET name = $2, version = version + 1, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL AND ($3::integer[] IS NULL OR version = ANY($3::integer[]))
RETURNING id, name, created_at, updated_at, version`

// Rename sets the organization's name and returns it. When ifMatch is not nil, the update only
// happens at one of its versions: a Precondition error says it has moved on.
func (s *PG) Rename(ctx context.Context, id uuid.UUID, name string, ifMatch Versions) (*Organization, error) {
	var o Organization
	err := s.db.QueryRow(ctx, renameOrganization, id, name, []int32(ifMatch)).
		Scan(&o.ID, &o.Name, &o.CreatedAt, &o.UpdatedAt, &o.Version)
	if errors.Is(err, pgx.ErrNoRows) && ifMatch != nil {
		// The caller locked the live row (LockRole), so the only reason left is the version.
		return nil, fault.E(fault.Precondition, "the organization has changed since the version If-Match names")
	}
	if err != nil {
		return nil, fmt.Errorf("rename organization: %w", notFound(err))
	}
	utc(&o)
	return &o, nil
}

const softDeleteOrganization = `
UPDATE organizations
SET deleted_at = now(), updated_at = now(), version = version + 1
WHERE id = $1 AND deleted_at IS NULL`

// SoftDelete marks the organization deleted. Its memberships stay, so that it could be recovered
// with its members; every read joins organizations and leaves deleted ones out.
func (s *PG) SoftDelete(ctx context.Context, id uuid.UUID) error {
	tag, err := s.db.Exec(ctx, softDeleteOrganization, id)
	if err != nil {
		return fmt.Errorf("delete organization: %w", db.Translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete organization: %w", errNotFound)
	}
	return nil
}

const memberUserIDs = `SELECT user_id FROM memberships WHERE organization_id = $1`

// MemberIDs returns the ids of every member of orgID, for invalidating their cached memberships.
func (s *PG) MemberIDs(ctx context.Context, orgID uuid.UUID) ([]uuid.UUID, error) {
	rows, err := s.db.Query(ctx, memberUserIDs, orgID)
	if err != nil {
		return nil, fmt.Errorf("list member ids: %w", db.Translate(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("list member ids: %w", db.Translate(err))
	}
	return ids, nil
}

// members orders by when each member joined, then by user id for members who joined in one
// transaction (the creator alone, today), so the list is stable.
const members = `
SELECT u.id, u.email, u.name, m.role
FROM memberships m
JOIN users u ON u.id = m.user_id
WHERE m.organization_id = $1
ORDER BY m.created_at, m.user_id`

// Members lists the members of orgID. It does not check that the organization is live: callers
// have established that the caller is a member of a live one.
func (s *PG) Members(ctx context.Context, orgID uuid.UUID) ([]Member, error) {
	rows, err := s.db.Query(ctx, members, orgID)
	if err != nil {
		return nil, fmt.Errorf("list members: %w", db.Translate(err))
	}
	out := []Member{}
	var (
		m    Member
		role string
	)
	_, err = pgx.ForEachRow(rows, []any{&m.UserID, &m.Email, &m.Name, &role}, func() error {
		m.Role = auth.Role(role)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", db.Translate(err))
	}
	return out, nil
}

// addMemberByEmail finds the user and inserts the membership in one statement. No row means no
// user has the email; the primary key turns a duplicate (even a concurrent one) into a unique
// violation, so there is no check-then-insert race.
const addMemberByEmail = `
WITH u AS (SELECT id, email, name FROM users WHERE email = $2::text),
ins AS (
    INSERT INTO memberships (organization_id, user_id, role)
    SELECT $1::uuid, u.id, $3::text FROM u
    RETURNING user_id, role
)
SELECT u.id, u.email, u.name, ins.role FROM ins JOIN u ON u.id = ins.user_id`

// AddMemberByEmail makes the user with email (normalised) a member of orgID with role. It returns
// a NotFound error when no user has the email and a Conflict error when they are already a member.
func (s *PG) AddMemberByEmail(ctx context.Context, orgID uuid.UUID, email string, role auth.Role) (*Member, error) {
	var (
		m Member
		r string
	)
	err := s.db.QueryRow(ctx, addMemberByEmail, orgID, email, string(role)).Scan(&m.UserID, &m.Email, &m.Name, &r)
	switch {
	case err == nil:
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fault.E(fault.NotFound, "no user has this email")
	case fault.CodeOf(db.Translate(err)) == fault.Conflict:
		return nil, fault.Wrap(fault.Conflict, err, "the user is already a member")
	default:
		return nil, fmt.Errorf("add member: %w", db.Translate(err))
	}
	m.Role = auth.Role(r)
	return &m, nil
}

const membershipRole = `SELECT role FROM memberships WHERE organization_id = $1 AND user_id = $2`

// Role returns userID's role in orgID, or a NotFound error when they aren't a member. Inside a
// transaction that took LockRole, the answer can't change before commit: removing a member
// takes the same lock.
func (s *PG) Role(ctx context.Context, orgID, userID uuid.UUID) (auth.Role, error) {
	var role string
	if err := s.db.QueryRow(ctx, membershipRole, orgID, userID).Scan(&role); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", fault.E(fault.NotFound, "member not found")
		}
		return "", fmt.Errorf("find member: %w", db.Translate(err))
	}
	return auth.Role(role), nil
}

const countOwners = `SELECT count(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'`

// Owners counts the owners of orgID.
func (s *PG) Owners(ctx context.Context, orgID uuid.UUID) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, countOwners, orgID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count owners: %w", db.Translate(err))
	}
	return n, nil
}

const deleteMembership = `DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2`

// DeleteMembership removes userID from orgID. It returns a NotFound error when they weren't a
// member.
func (s *PG) DeleteMembership(ctx context.Context, orgID, userID uuid.UUID) error {
	tag, err := s.db.Exec(ctx, deleteMembership, orgID, userID)
	if err != nil {
		return fmt.Errorf("remove member: %w", db.Translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fault.E(fault.NotFound, "member not found")
	}
	return nil
}

// notFound translates err, answering "no rows" with the organization's own 404.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errNotFound
	}
	return db.Translate(err)
}

// utc puts o's times in UTC, as the list's JSON renders them, so one organization reads the same
// in a list and on its own whatever the session's TimeZone.
func utc(o *Organization) {
	o.CreatedAt = o.CreatedAt.UTC()
	o.UpdatedAt = o.UpdatedAt.UTC()
}
