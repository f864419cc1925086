package membership

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real stack (PostgreSQL behind PgBouncer) once for the package.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func TestList(t *testing.T) {
	ctx := context.Background()
	pool, err := db.Open(ctx, db.Options{URL: devtest.NewDatabase(t).PoolerURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	u := uuid.Must(uuid.NewV7())
	exec(`INSERT INTO users (id, email, name, password_hash) VALUES ($1, 'ada@example.com', 'Ada', 'x')`, u)

	ms, err := List(ctx, pool, u)
	if err != nil || ms == nil || len(ms) != 0 {
		t.Fatalf("no memberships: %#v, %v; want an empty, non-nil list", ms, err)
	}
	org := func(role auth.Role) uuid.UUID {
		id := uuid.Must(uuid.NewV7())
		exec(`INSERT INTO organizations (id, name) VALUES ($1, 'org')`, id)
		exec(`INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)`, id, u, string(role))
		return id
	}
	a, b, deleted := org(auth.RoleOwner), org(auth.RoleMember), org(auth.RoleAdmin)
	exec(`UPDATE organizations SET deleted_at = now() WHERE id = $1`, deleted)

	ms, err = List(ctx, pool, u)
	if err != nil {
		t.Fatal(err)
	}
	want := []Membership{{a, auth.RoleOwner}, {b, auth.RoleMember}}
	if len(ms) != len(want) || ms[0] != want[0] || ms[1] != want[1] {
		t.Fatalf("memberships %v, want %v (deleted organization left out, oldest first)", ms, want)
	}
}
