package devtest_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func query[T any](t *testing.T, url, sql string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Simple protocol: the same query also goes through the transaction-mode pooler.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer c.Close(ctx)
	var v T
	if err := c.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s on %s: %v", sql, url, err)
	}
	return v
}

func TestNewDatabase(t *testing.T) {
	s := devtest.Services(t)
	var d devtest.Database

	t.Run("IsMigratedAndReachableEverywhere", func(t *testing.T) {
		began := time.Now()
		d = devtest.NewDatabase(t)
		t.Logf("NewDatabase took %v", time.Since(began).Round(time.Millisecond))
		for _, url := range []string{d.PrimaryURL, d.ReplicaURL, d.PoolerURL} {
			if got := query[string](t, url, "SELECT current_database()"); got != d.Name {
				t.Errorf("%s: current_database() = %q, want %q", url, got, d.Name)
			}
			// goose's version table: the migrations ran in the template.
			if n := query[int64](t, url, "SELECT count(*) FROM goose_db_version WHERE is_applied"); n < 1 {
				t.Errorf("%s: %d migrations applied", url, n)
			}
		}
		if !strings.HasPrefix(d.Name, "test_testnewdatabase_") {
			t.Errorf("database name %q does not say which test it belongs to", d.Name)
		}
	})

	t.Run("IsDroppedWhenTheTestEnds", func(t *testing.T) {
		if d.Name == "" {
			t.Fatal("no database from the previous subtest")
		}
		if query[bool](t, s.PrimaryURL, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", d.Name) {
			t.Fatalf("database %s still exists after its test ended", d.Name)
		}
	})

	t.Run("TemplateAcceptsNoConnections", func(t *testing.T) {
		n := query[int64](t, s.PrimaryURL, "SELECT count(*) FROM pg_database WHERE datname LIKE 'tmpl\\_%' AND datistemplate AND NOT datallowconn")
		if n < 1 {
			t.Fatal("no template database with allow_connections off")
		}
	})

	t.Run("ParallelTestsGetTheirOwnDatabases", func(t *testing.T) {
		var mu sync.Mutex
		names := map[string]bool{}
		for i := range 8 {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				d := devtest.NewDatabase(t)
				mu.Lock()
				defer mu.Unlock()
				if names[d.Name] {
					t.Errorf("database %s handed out twice (%d)", d.Name, i)
				}
				names[d.Name] = true
			})
		}
	})
}
