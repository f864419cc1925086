package devtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices"
	"scaleapi/shared/migrations"
)

// Database is a test's own PostgreSQL database, with the schema of package migrations applied.
type Database struct {
	// Name is the database name, the same on the primary, the replica and through the pooler.
	Name string
	// PrimaryURL connects directly to the primary.
	PrimaryURL string
	// ReplicaURL connects directly to the streaming replica, which already has the database.
	ReplicaURL string
	// PoolerURL connects through PgBouncer in transaction mode.
	PoolerURL string
}

// NewDatabase creates a database for t, cloned from a template database that has every migration
// applied, and drops it when t ends. Cloning takes milliseconds where migrating would take much
// longer, so every test can have its own database and run in parallel with the others.
//
// The template is named after a hash of the migration files, so a changed migration gets a new
// template instead of tests running against a stale schema; it is built once per stack, under an
// advisory lock because the test binaries of one `go test ./...` share the stack.
func NewDatabase(t testing.TB) Database {
	t.Helper()
	s := Services(t)
	if s.PrimaryURL == "" {
		t.Fatalf("devtest: the stack has no PostgreSQL primary (%s is not set)", devservices.EnvPrimaryURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := databaseName(t.Name())
	createOn(ctx, t, s.PrimaryURL, name)
	d := Database{
		Name:       name,
		PrimaryURL: withDatabase(s.PrimaryURL, name),
		ReplicaURL: withDatabase(s.ReplicaURL, name),
		PoolerURL:  withDatabase(s.PoolerURL, name),
	}
	if s.ReplicaURL != "" {
		// The replica gets the new database by replaying WAL; a test connecting to it at once
		// would otherwise sometimes find no such database.
		if err := devservices.WaitReplay(ctx, s.PrimaryURL, s.ReplicaURL); err != nil {
			t.Fatalf("devtest: %v", err)
		}
	}
	return d
}

// NewShardDatabases creates t's database on each of n shards, as NewDatabase does: the first is
// NewDatabase's, on the stack's primary (with its replica), the others on the stack's further
// shards, which have no replica (ReplicaURL empty). It fails the test when the stack has fewer
// than n shards.
func NewShardDatabases(t testing.TB, n int) []Database {
	t.Helper()
	s := Services(t)
	if n < 1 || len(s.Shards) < n-1 {
		t.Fatalf("devtest: %d shards asked for, the stack has %d (%s)", n, len(s.Shards)+1, devservices.EnvShards)
	}
	out := []Database{NewDatabase(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, sh := range s.Shards[:n-1] {
		name := out[0].Name
		createOn(ctx, t, sh.PrimaryURL, name)
		out = append(out, Database{Name: name, PrimaryURL: withDatabase(sh.PrimaryURL, name), PoolerURL: withDatabase(sh.PoolerURL, name)})
	}
	return out
}

// createOn creates database name on the server of primaryURL from its migrated template, and
// drops it when t ends.
func createOn(ctx context.Context, t testing.TB, primaryURL, name string) {
	t.Helper()
	tmpl, err := ensureTemplate(ctx, primaryURL)
	if err != nil {
		t.Fatalf("devtest: %v", err)
	}
	if err := adminExec(ctx, primaryURL, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(tmpl)); err != nil {
		t.Fatalf("devtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE: a pool the test forgot to close, or PgBouncer's server connections, must not
		// keep the database alive.
		if err := adminExec(ctx, primaryURL, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("devtest: drop database %s: %v", name, err)
		}
	})
}

// templateLock is the advisory lock key that serialises building templates across the test
// binaries sharing one stack.
const templateLock int64 = 0x5ca1ea7e

// templateVersion changes the template name when the way templates are built changes.
const templateVersion = "devtest/1"

var templates struct {
	sync.Mutex
	built map[string]string // primary URL -> template name, once built or found
}

// ensureTemplate returns the name of the migrated template on the primary, building it if it does
// not exist. The template is built under another name and renamed when complete, so the final name
// existing means the template is whole, even after a test binary died halfway through a build.
// It is left with ALLOW_CONNECTIONS false: CREATE DATABASE ... TEMPLATE fails while anyone is
// connected to the template, and this way no one can be.
func ensureTemplate(ctx context.Context, primaryURL string) (string, error) {
	templates.Lock()
	defer templates.Unlock()
	if name, ok := templates.built[primaryURL]; ok {
		return name, nil
	}
	name, err := templateName()
	if err != nil {
		return "", err
	}
	c, err := connect(ctx, primaryURL)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	exists := func() (bool, error) {
		var ok bool
		err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
		return ok, err
	}
	ok, err := exists()
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if !ok {
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
			return "", fmt.Errorf("template: lock: %w", err)
		}
		// Closing the connection would release the lock too; unlocking says it.
		defer c.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", templateLock)
		if ok, err = exists(); err != nil {
			return "", fmt.Errorf("template: %w", err)
		}
		if !ok {
			if err := buildTemplate(ctx, c, primaryURL, name); err != nil {
				return "", fmt.Errorf("template %s: %w", name, err)
			}
		}
	}
	if templates.built == nil {
		templates.built = map[string]string{}
	}
	templates.built[primaryURL] = name
	return name, nil
}

func buildTemplate(ctx context.Context, c *pgx.Conn, primaryURL, name string) error {
	building := name + "_build"
	// Left behind by a test binary that died while building; it may already be marked as a
	// template, which DROP DATABASE refuses.
	var leftover bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", building).Scan(&leftover); err != nil {
		return err
	}
	if leftover {
		if _, err := c.Exec(ctx, "ALTER DATABASE "+ident(building)+" WITH IS_TEMPLATE false"); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "DROP DATABASE "+ident(building)+" WITH (FORCE)"); err != nil {
			return err
		}
	}
	// template0: nothing that happens to be in template1 leaks into the tests' schema.
	if _, err := c.Exec(ctx, "CREATE DATABASE "+ident(building)+" TEMPLATE template0"); err != nil {
		return err
	}
	if err := migrations.Up(ctx, withDatabase(primaryURL, building)); err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "ALTER DATABASE "+ident(building)+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"); err != nil {
		return err
	}
	// A closed connection's server process may still be exiting; RENAME and CREATE DATABASE ...
	// TEMPLATE both need it gone.
	if _, err := c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", building); err != nil {
		return err
	}
	_, err := c.Exec(ctx, "ALTER DATABASE "+ident(building)+" RENAME TO "+ident(name))
	return err
}

// templateName is tmpl_ and the start of a SHA-256 over the names and contents of the migration
// files.
func templateName() (string, error) {
	h := sha256.New()
	h.Write([]byte(templateVersion))
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "\x00%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return "tmpl_" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

// databaseName makes a database name from the test's name, to find a test's database when
// looking at a running stack, plus a random suffix, because test names repeat across packages and
// -count runs. It stays within PostgreSQL's 63 bytes.
func databaseName(testName string) string {
	var b strings.Builder
	b.WriteString("test_")
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= 5+30 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String() + "_" + strings.ToLower(rand.Text()[:10])
}

// withDatabase returns u with its database (the URL path) replaced by name; "" stays "".
func withDatabase(u, name string) string {
	if u == "" {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil {
		// The URLs come from devservices, which writes well-formed ones.
		panic(fmt.Sprintf("devtest: bad database URL %q: %v", u, err))
	}
	p.Path = "/" + name
	return p.String()
}

// connect opens an administrative connection to the primary's postgres database. The simple
// protocol leaves no prepared statements behind.
func connect(ctx context.Context, primaryURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(primaryURL)
	if err != nil {
		return nil, err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	return pgx.ConnectConfig(ctx, cfg)
}

// adminExec runs one statement on the primary's postgres database, on its own connection:
// CREATE and DROP DATABASE can't run in a transaction, and a connection per statement keeps
// nothing open between tests.
func adminExec(ctx context.Context, primaryURL, sql string) error {
	c, err := connect(ctx, primaryURL)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	_, err = c.Exec(ctx, sql)
	return err
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
