package db

import (
	"context"
	"testing"

	"github.com/google/uuid"
)

func newID(t testing.TB) uuid.UUID {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func open(t testing.TB, opts Options) *Pool {
	t.Helper()
	p, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open %s: %v", opts.Name, err)
	}
	t.Cleanup(p.Close)
	return p
}

func insertOrg(t testing.TB, db DBTX) uuid.UUID {
	t.Helper()
	id := newID(t)
	if _, err := db.Exec(context.Background(), `INSERT INTO organizations (id, name) VALUES ($1, $2)`, id, "org "+id.String()[:8]); err != nil {
		t.Fatalf("insert organization: %v", err)
	}
	return id
}

func insertProject(t testing.TB, db DBTX, org uuid.UUID) uuid.UUID {
	t.Helper()
	id := newID(t)
	if _, err := db.Exec(context.Background(), `INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, $3)`, id, org, "project"); err != nil {
		t.Fatalf("insert project: %v", err)
	}
	return id
}
