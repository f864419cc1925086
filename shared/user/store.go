package user

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/db"
	"scaleapi/shared/membership"
)

// Store is what the Service needs from storage.
type Store interface {
	// Create inserts u (ID, Email, Name, PasswordHash set) and fills in its timestamps. It returns
	// a Conflict error when the email is taken.
	Create(ctx context.Context, u *User) error
	// ByEmail returns the user with the (normalised) email, or a NotFound error.
	ByEmail(ctx context.Context, email string) (*User, error)
	// ByID returns the user, or a NotFound error.
	ByID(ctx context.Context, id uuid.UUID) (*User, error)
	// SetPasswordHash replaces a user's password hash (after a parameter upgrade). A missing user
	// is a NotFound error.
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string) error
	// Memberships lists the live organizations the user belongs to, oldest first.
	Memberships(ctx context.Context, userID uuid.UUID) ([]membership.Membership, error)
}

// PG is the Store on PostgreSQL.
type PG struct {
	db db.DBTX
}

var _ Store = (*PG)(nil)

// NewPG returns a PG over conn (a pool, or a transaction).
func NewPG(conn db.DBTX) *PG { return &PG{db: conn} }

const createUser = `
INSERT INTO users (id, email, name, password_hash)
VALUES ($1, $2, $3, $4)
RETURNING created_at, updated_at`

// Create inserts u. The unique index on email, not a check-then-insert, decides between two
// concurrent registrations of one address: the loser gets the unique violation, translated to 409.
func (s *PG) Create(ctx context.Context, u *User) error {
	err := s.db.QueryRow(ctx, createUser, u.ID, u.Email, u.Name, u.PasswordHash).Scan(&u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return fmt.Errorf("create user: %w", db.Translate(err))
	}
	return nil
}

const userColumns = `id, email, name, password_hash, created_at, updated_at`

const userByEmail = `SELECT ` + userColumns + ` FROM users WHERE email = $1`

// ByEmail returns the user with email.
func (s *PG) ByEmail(ctx context.Context, email string) (*User, error) {
	return s.one(ctx, "find user by email", userByEmail, email)
}

const userByID = `SELECT ` + userColumns + ` FROM users WHERE id = $1`

// ByID returns the user with id.
func (s *PG) ByID(ctx context.Context, id uuid.UUID) (*User, error) {
	return s.one(ctx, "find user", userByID, id)
}

func (s *PG) one(ctx context.Context, what, sql string, arg any) (*User, error) {
	var u User
	err := s.db.QueryRow(ctx, sql, arg).Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.CreatedAt, &u.UpdatedAt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, db.Translate(err))
	}
	return &u, nil
}

const setPasswordHash = `UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1` // #nosec G101 -- SQL naming the column; the hash is bound as $2

// SetPasswordHash replaces id's password hash.
func (s *PG) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string) error {
	tag, err := s.db.Exec(ctx, setPasswordHash, id, hash)
	if err != nil {
		return fmt.Errorf("set password hash: %w", db.Translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set password hash: %w", db.Translate(pgx.ErrNoRows))
	}
	return nil
}

// Memberships lists userID's live organizations.
func (s *PG) Memberships(ctx context.Context, userID uuid.UUID) ([]membership.Membership, error) {
	return membership.List(ctx, s.db, userID)
}
