package user

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
)

func newUserRow(t *testing.T, s *PG, email string) *User {
	t.Helper()
	u := &User{ID: uuid.Must(uuid.NewV7()), Email: email, Name: "Ada", PasswordHash: "$argon2id$x"}
	if err := s.Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestStore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := newUserRow(t, e.store, "ada@example.com")
	if u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
		t.Fatal("Create did not fill in the timestamps")
	}

	t.Run("ByEmail", func(t *testing.T) {
		got, err := e.store.ByEmail(ctx, "ada@example.com")
		if err != nil || got.ID != u.ID || got.PasswordHash != u.PasswordHash {
			t.Fatalf("ByEmail = %+v, %v", got, err)
		}
	})
	t.Run("ByID", func(t *testing.T) {
		got, err := e.store.ByID(ctx, u.ID)
		if err != nil || got.Email != u.Email {
			t.Fatalf("ByID = %+v, %v", got, err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := e.store.ByEmail(ctx, "nobody@example.com"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("ByEmail(unknown) = %v", err)
		}
		if _, err := e.store.ByID(ctx, uuid.New()); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("ByID(unknown) = %v", err)
		}
		if err := e.store.SetPasswordHash(ctx, uuid.New(), "x"); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("SetPasswordHash(unknown) = %v", err)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		dup := &User{ID: uuid.Must(uuid.NewV7()), Email: "ada@example.com", Name: "Other", PasswordHash: "x"}
		err := e.store.Create(ctx, dup)
		if !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("duplicate email: %v, want Conflict", err)
		}
	})
	t.Run("SetPasswordHash", func(t *testing.T) {
		if err := e.store.SetPasswordHash(ctx, u.ID, "new"); err != nil {
			t.Fatal(err)
		}
		got, _ := e.store.ByID(ctx, u.ID)
		if got.PasswordHash != "new" || !got.UpdatedAt.After(u.UpdatedAt) {
			t.Fatalf("hash %q, updatedAt %v", got.PasswordHash, got.UpdatedAt)
		}
	})
}

// insertOrg creates an organization with userID as a member in role.
func insertOrg(t *testing.T, e *env, userID uuid.UUID, role auth.Role) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := uuid.Must(uuid.NewV7())
	if _, err := e.pool.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, 'org')`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)`, id, userID, string(role)); err != nil {
		t.Fatal(err)
	}
	return id
}
