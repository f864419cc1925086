// Package migrations holds the database schema as embedded SQL files and runs them with goose.
//
// The files are the single source of truth for the schema: cmd/migrate applies them locally and on
// deploy, and the test harness applies them to a template database that every test clones. They
// are embedded so that a binary carries exactly the schema it was built against.
//
// Migrations must run against the PostgreSQL primary directly, not through the transaction-mode
// pooler (PgBouncer locally, RDS Proxy in AWS): goose serialises concurrent runs (two deploys, two
// test processes) with a session-level advisory lock, which a transaction pooler would release
// behind our back, and DDL should not be multiplexed with application traffic anyway.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// FS holds the migration files, named NNNNN_description.sql, each with goose Up and Down sections.
//
//go:embed *.sql
var FS embed.FS

// lockID is the advisory lock key goose takes for the duration of a run. It is fixed (not goose's
// default) so that another goose-managed schema sharing a database can't block ours.
const lockID int64 = 0x5ca1ea91

// Newest returns the version of the newest migration in FS: the schema version a database is at
// after Up. template.yaml's migration custom resource carries it, so that a deploy adding a
// migration changes the resource and CloudFormation runs the migrations again.
func Newest() (int64, error) {
	names, err := fs.Glob(FS, "*.sql")
	if err != nil {
		return 0, err
	}
	var newest int64
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migrations: %s: no version number before the first underscore", name)
		}
		newest = max(newest, v)
	}
	if newest == 0 {
		return 0, errors.New("migrations: none embedded")
	}
	return newest, nil
}

// Up applies every pending migration. It is a no-op on an up-to-date database.
func Up(ctx context.Context, databaseURL string) error {
	return run(ctx, databaseURL, "up", func(p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
}

// Down rolls back the most recently applied migration. It is a no-op on an empty database.
func Down(ctx context.Context, databaseURL string) error {
	return run(ctx, databaseURL, "down", func(p *goose.Provider) error {
		_, err := p.Down(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil
		}
		return err
	})
}

// DownTo rolls back every migration newer than version; DownTo(ctx, url, 0) empties the schema.
func DownTo(ctx context.Context, databaseURL string, version int64) error {
	return run(ctx, databaseURL, "down to", func(p *goose.Provider) error {
		_, err := p.DownTo(ctx, version)
		return err
	})
}

// Status writes one line per migration to w: its version, file, and when it was applied (or
// "pending").
func Status(ctx context.Context, databaseURL string, w io.Writer) error {
	return run(ctx, databaseURL, "status", func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED AT")
		for _, s := range st {
			applied := string(s.State)
			if s.State == goose.StateApplied {
				applied = s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Source.Version, s.Source.Path, applied)
		}
		return tw.Flush()
	})
}

// run opens a short-lived database handle, builds a goose provider over FS and runs fn with it.
func run(ctx context.Context, databaseURL, op string, fn func(*goose.Provider) error) (err error) {
	if databaseURL == "" {
		return fmt.Errorf("migrations %s: no database URL", op)
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message quotes the URL with the password redacted only on a best-effort basis:
		// keep just the cause.
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = errors.New("malformed")
		}
		return fmt.Errorf("migrations %s: parse database URL: %w", op, cause)
	}
	// Each migration statement runs once: caching prepared statements would only leave them
	// behind on the server. Exec mode is one round trip per statement with no server-side state.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("migrations %s: close: %w", op, cerr)
		}
	}()
	p, err := newProvider(db)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", op, err)
	}
	if err := fn(p); err != nil {
		return fmt.Errorf("migrations %s: %w", op, err)
	}
	return nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, FS,
		goose.WithSessionLocker(locker),
		// Never pick up migrations registered in goose's global registry by some other package.
		goose.WithDisableGlobalRegistry(true),
	)
}
