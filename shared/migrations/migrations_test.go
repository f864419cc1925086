package migrations_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/migrations"
)

// created names the relation (table or index) or function each migration creates, in migration
// order: its presence tells which versions are applied.
var created = []string{"organizations", "users", "memberships", "projects", "tasks", "projects_organization_status_live_idx", "cache_epoch", "organization_shards", "scaleapi_member_role"}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// relations returns which of created exist (relations, and functions by name).
func relations(t *testing.T, c *pgx.Conn) map[string]bool {
	t.Helper()
	rows, err := c.Query(context.Background(),
		`SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relname = ANY($1)
		UNION SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname = ANY($1)`, created)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, n := range names {
		got[n] = true
	}
	return got
}

func status(t *testing.T, url string) string {
	t.Helper()
	var b strings.Builder
	if err := migrations.Status(context.Background(), url, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func migrationCount(t *testing.T) int {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

// TestUpDownUp takes a migrated database all the way down, one migration at a time, and back up,
// twice over: every Down undoes its Up exactly, so a migration can be rolled back on deploy.
func TestUpDownUp(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := connect(t, d.PrimaryURL)
	n := migrationCount(t)
	if n != len(created) {
		t.Fatalf("%d migrations but %d relations listed here: update created", n, len(created))
	}

	if got := relations(t, c); len(got) != len(created) {
		t.Fatalf("a fresh test database has %v, want all of %v", got, created)
	}
	if st := status(t, d.PrimaryURL); strings.Contains(st, "pending") {
		t.Fatalf("fresh database has pending migrations:\n%s", st)
	}

	t.Run("UpIsIdempotent", func(t *testing.T) {
		if err := migrations.Up(ctx, d.PrimaryURL); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("DownOneAtATime", func(t *testing.T) {
		for i := n - 1; i >= 0; i-- {
			if err := migrations.Down(ctx, d.PrimaryURL); err != nil {
				t.Fatalf("down from version %d: %v", i+1, err)
			}
			got := relations(t, c)
			for j, rel := range created {
				if want := j < i; got[rel] != want {
					t.Fatalf("after rolling back version %d, %s exists = %v, want %v", i+1, rel, got[rel], want)
				}
			}
		}
		if st := status(t, d.PrimaryURL); strings.Count(st, "pending") != n {
			t.Fatalf("status after rolling everything back:\n%s", st)
		}
	})

	t.Run("DownOnEmptyIsNoOp", func(t *testing.T) {
		if err := migrations.Down(ctx, d.PrimaryURL); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("UpAgain", func(t *testing.T) {
		if err := migrations.Up(ctx, d.PrimaryURL); err != nil {
			t.Fatal(err)
		}
		if got := relations(t, c); len(got) != len(created) {
			t.Fatalf("relations after up: %v", got)
		}
		if st := status(t, d.PrimaryURL); strings.Contains(st, "pending") {
			t.Fatalf("pending after up:\n%s", st)
		}
	})

	t.Run("DownToZeroAndUp", func(t *testing.T) {
		if err := migrations.DownTo(ctx, d.PrimaryURL, 0); err != nil {
			t.Fatal(err)
		}
		if got := relations(t, c); len(got) != 0 {
			t.Fatalf("relations left after DownTo 0: %v", got)
		}
		if err := migrations.Up(ctx, d.PrimaryURL); err != nil {
			t.Fatal(err)
		}
		if got := relations(t, c); len(got) != len(created) {
			t.Fatalf("relations after up: %v", got)
		}
	})

	t.Run("ErrorWithoutURL", func(t *testing.T) {
		if err := migrations.Up(ctx, ""); err == nil {
			t.Fatal("no error")
		}
	})

	t.Run("ErrorHidesPassword", func(t *testing.T) {
		err := migrations.Up(ctx, "postgres://u:s3cret@127.0.0.1:notaport/x")
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("err = %v", err)
		}
	})
}
