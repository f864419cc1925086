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

// appTables are the tables the migrations create, in the order they create them.
var appTables = []string{"organizations", "users", "memberships", "projects", "tasks"}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// tables returns which of appTables exist.
func tables(t *testing.T, c *pgx.Conn) map[string]bool {
	t.Helper()
	rows, err := c.Query(context.Background(),
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name = ANY($1)`, appTables)
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
	if n != len(appTables) {
		t.Fatalf("%d migrations but %d tables listed here: update appTables", n, len(appTables))
	}

	if got := tables(t, c); len(got) != len(appTables) {
		t.Fatalf("a fresh test database has tables %v, want all of %v", got, appTables)
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
			got := tables(t, c)
			for j, table := range appTables {
				if want := j < i; got[table] != want {
					t.Fatalf("after rolling back version %d, table %s exists = %v, want %v", i+1, table, got[table], want)
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
		if got := tables(t, c); len(got) != len(appTables) {
			t.Fatalf("tables after up: %v", got)
		}
		if st := status(t, d.PrimaryURL); strings.Contains(st, "pending") {
			t.Fatalf("pending after up:\n%s", st)
		}
	})

	t.Run("DownToZeroAndUp", func(t *testing.T) {
		if err := migrations.DownTo(ctx, d.PrimaryURL, 0); err != nil {
			t.Fatal(err)
		}
		if got := tables(t, c); len(got) != 0 {
			t.Fatalf("tables left after DownTo 0: %v", got)
		}
		if err := migrations.Up(ctx, d.PrimaryURL); err != nil {
			t.Fatal(err)
		}
		if got := tables(t, c); len(got) != len(appTables) {
			t.Fatalf("tables after up: %v", got)
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
