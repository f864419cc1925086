package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"scaleapi/internal/samtemplate"
	"scaleapi/shared/devservices"
	"scaleapi/shared/migrations"
	"scaleapi/shared/shard"
)

// serviceOptions are the command-line choices about the backing services.
type serviceOptions struct {
	// DataDir keeps what outlives a run: the embedded database (pgdata) and Redis (redis),
	// their logs, and the JWT signing key.
	DataDir string
	// Migrate applies the migrations to an external DATABASE_URL too. The embedded database is
	// always migrated: it is ours, and a fresh one is useless without the schema.
	Migrate bool
	// Seed loads the demo data (seed.go).
	Seed bool
	// Log gets progress lines (initdb on a first run, migrations).
	Log io.Writer
	// Declared holds the variables some function's template environment declares. A service
	// none of the functions would see (a template without DATABASE_URL) is not started.
	Declared map[string]bool
}

// declared returns the variables the functions' template environments declare.
func declared(fns []*samtemplate.Function) map[string]bool {
	out := map[string]bool{}
	for _, fn := range fns {
		for k := range fn.Environment {
			out[k] = true
		}
	}
	return out
}

// embeddedDatabase is the database created in the embedded server for the functions; the server's
// own "postgres" database is left alone, as on any PostgreSQL installation.
const embeddedDatabase = "scaleapi"

// services are the backing services the functions use, as the banner shows them.
type services struct {
	Database string
	Redis    string
	// Login is the seeded demo login, or nil without -seed.
	Login *demoLogin
	stops []func()
}

// startServices makes sure the functions have a database, a Redis and a signing key, by setting
// host before the gateway composes the functions' environments from it (gateway.FunctionEnv
// passes a host value to every function whose template declares the variable):
//
//   - Without DATABASE_URL, it starts a private PostgreSQL from the machine's binaries with its
//     data in <DataDir>/pgdata (initdb on the first run, kept afterwards), creates the scaleapi
//     database, migrates it, and sets DATABASE_URL and DATABASE_READER_URL to it. With
//     DATABASE_URL, it uses that (and, without DATABASE_READER_URL, sets that to the same
//     database) and migrates it only with -migrate: an external database is
//     someone else's (the compose stack, the harness, a shared dev database), and changing its
//     schema should be asked for. Migrations need the primary itself, not a transaction-mode
//     pooler (see package migrations): with a PgBouncer URL, run `make migrate` against the
//     primary instead.
//   - With DATABASE_SHARDS, the shard map names the databases (useShards); nothing is started.
//   - Without REDIS_URL, it runs a real redis-server from the machine's binaries on a free
//     loopback port, with its data in <DataDir>/redis (redis.go), and sets REDIS_URL (and
//     REDIS_CLUSTER=false) to it. With REDIS_URL, it sets REDIS_CLUSTER=false unless it is
//     set: the template's default (true) is for ElastiCache Serverless.
//   - Without JWT_SECRET, it sets one kept in <DataDir>/jwt-secret, so tokens survive a restart.
//   - Without DATABASE_IAM_AUTH, it sets it to false: the template's default (true) is for RDS
//     Proxy, and a local database has no IAM.
//
// The template's JWT_SECRET_ARN stays in the functions' environment (an empty host value can't
// clear it) and is harmless: a function reads the ARN only when JWT_SECRET is empty.
//
// Only what some function would see is set up: a template none of whose functions declares
// DATABASE_URL (opts.Declared) gets no database. Values from an -env-vars file still win over all
// of these. On error, whatever was started is stopped again.
func startServices(ctx context.Context, host map[string]string, opts serviceOptions) (_ *services, err error) {
	s := &services{}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	s.Database, s.Redis = "none (no function declares DATABASE_URL)", "none (no function declares REDIS_URL)"
	needDB, needRedis, needKey := opts.Declared["DATABASE_URL"], opts.Declared["REDIS_URL"], opts.Declared["JWT_SECRET"]
	if opts.Seed && !needDB {
		return nil, errors.New("-seed: no function declares DATABASE_URL")
	}
	if needDB || needRedis || needKey {
		// 0755: as root, the embedded PostgreSQL runs as the postgres user, who must reach
		// <DataDir>/pgdata.
		if err := os.MkdirAll(opts.DataDir, 0o755); err != nil { // #nosec G301 -- the postgres user must reach it (above)
			return nil, fmt.Errorf("data dir: %w", err)
		}
	}
	if needKey && host["JWT_SECRET"] == "" {
		secret, err := signingSecret(filepath.Join(opts.DataDir, "jwt-secret"))
		if err != nil {
			return nil, err
		}
		host["JWT_SECRET"] = secret
	}
	if host["DATABASE_IAM_AUTH"] == "" {
		host["DATABASE_IAM_AUTH"] = "false"
	}

	embeddedDB, freshDB := needDB && host["DATABASE_URL"] == "" && host["DATABASE_SHARDS"] == "", false
	switch {
	case !needDB:
	case host["DATABASE_SHARDS"] != "":
		if err := s.useShards(ctx, host, opts); err != nil {
			return nil, err
		}
	case embeddedDB:
		if freshDB, err = s.startPostgres(ctx, host, opts); err != nil {
			return nil, err
		}
	default:
		s.Database = "external (DATABASE_URL) " + redact(host["DATABASE_URL"])
		if r := host["DATABASE_READER_URL"]; r != "" {
			s.Database += ", reader " + redact(r)
		} else {
			// The template's reader is the stack's own proxy endpoint: without a reader of its
			// own, an external database serves the reports too.
			host["DATABASE_READER_URL"] = host["DATABASE_URL"]
		}
		if opts.Migrate {
			fmt.Fprintln(opts.Log, "local: migrating DATABASE_URL (-migrate)")
			if err := migrations.Up(ctx, host["DATABASE_URL"]); err != nil {
				return nil, err
			}
			s.Database += ", migrated"
		}
	}

	switch {
	case !needRedis:
	case host["REDIS_URL"] == "":
		if err := s.startRedis(ctx, host, opts, embeddedDB, freshDB); err != nil {
			return nil, err
		}
	default:
		s.Redis = "external (REDIS_URL) " + redact(host["REDIS_URL"])
		if host["REDIS_CLUSTER"] == "" {
			// The template's default (true) is for ElastiCache Serverless; a Redis named by
			// URL is standalone unless REDIS_CLUSTER says otherwise.
			host["REDIS_CLUSTER"] = "false"
		}
		if host["REDIS_CLUSTER"] == "true" {
			s.Redis += ", cluster"
		}
	}

	if opts.Seed {
		if s.Login, err = seed(ctx, host["DATABASE_URL"]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// useShards takes the shard map from DATABASE_SHARDS (main.go makes it the template's
// DatabaseShards, which clears DATABASE_URL and DATABASE_READER_URL). With -migrate it migrates
// every shard's writer, which must then be the primary. -seed's demo data is one database's.
func (s *services) useShards(ctx context.Context, host map[string]string, opts serviceOptions) error {
	if host["DATABASE_URL"] != "" || host["DATABASE_READER_URL"] != "" {
		return errors.New("DATABASE_SHARDS replaces DATABASE_URL and DATABASE_READER_URL: set one or the other")
	}
	if opts.Seed {
		return errors.New("-seed loads one database's demo data; it doesn't go with DATABASE_SHARDS")
	}
	specs, err := shard.ParseMap(host["DATABASE_SHARDS"])
	if err != nil {
		return fmt.Errorf("DATABASE_SHARDS: %w", err)
	}
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = sp.Name + " " + redact(sp.Writer)
		if opts.Migrate {
			fmt.Fprintf(opts.Log, "local: migrating shard %s (-migrate)\n", sp.Name)
			if err := migrations.Up(ctx, sp.Writer); err != nil {
				return fmt.Errorf("shard %s: %w", sp.Name, err)
			}
		}
	}
	s.Database = fmt.Sprintf("external, %d shards (DATABASE_SHARDS): %s", len(specs), strings.Join(names, ", "))
	if opts.Migrate {
		s.Database += ", migrated"
	}
	return nil
}

// startPostgres starts the embedded database and points host at it. fresh reports whether this
// run created the cluster.
func (s *services) startPostgres(ctx context.Context, host map[string]string, opts serviceOptions) (fresh bool, err error) {
	dataDir, err := filepath.Abs(filepath.Join(opts.DataDir, "pgdata"))
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
		fresh = true
		fmt.Fprintf(opts.Log, "local: creating the embedded PostgreSQL cluster in %s (first run)\n", dataDir)
	} else if err := clearPreviousServer(ctx, dataDir, opts.Log, previousServerWait); err != nil {
		return false, err
	}
	// StartPostgres stops the server when its context ends. ctx ends at the first Ctrl-C, but the
	// server must outlive that: in-flight requests finish first, then the functions stop, and
	// only then the database (Stop). So the server gets a context of its own, which ctx cancels
	// only while the server is still starting, to make a Ctrl-C during initdb abort it.
	life, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopWatching := context.AfterFunc(ctx, cancel)
	pg, err := devservices.StartPostgres(life, dataDir)
	stopWatching()
	if err != nil {
		cancel()
		return false, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	s.stops = append(s.stops, func() {
		if err := pg.Stop(); err != nil {
			fmt.Fprintln(opts.Log, "local: embedded PostgreSQL:", err)
		}
		cancel()
	})
	dbURL, err := ensureDatabase(ctx, pg.URL, embeddedDatabase)
	if err != nil {
		return false, err
	}
	if err := migrations.Up(ctx, dbURL); err != nil {
		return false, err
	}
	host["DATABASE_URL"] = dbURL
	// No replica here: the reports read the same server, as they do when an environment has no
	// reader endpoint, but said explicitly so that the functions don't log the fallback.
	host["DATABASE_READER_URL"] = dbURL
	s.Database = fmt.Sprintf("embedded PostgreSQL %s (data in %s, log %s.log)", redact(dbURL), rel(dataDir), rel(dataDir))
	return fresh, nil
}

// ensureDatabase creates database name on the server adminURL points at, unless it exists, and
// returns the URL of that database.
func ensureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	if !exists {
		// CREATE DATABASE takes no parameters; name is our constant, quoted anyway.
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("embedded PostgreSQL: create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Banner returns the banner's lines about the services; url is where the API listens.
func (s *services) Banner(url string) []string {
	lines := []string{"Database: " + s.Database, "Redis:    " + s.Redis}
	if s.Login != nil {
		lines = append(lines, "")
		lines = append(lines, s.Login.Describe(url)...)
	}
	return lines
}

// Stop stops the services started here, last started first. It is safe to call more than once.
func (s *services) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// redact shows a connection URL without its password.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)" // the URL may hold a password: never echo it
	}
	return u.Redacted()
}

// rel shows path relative to the working directory when it is below it, as a developer typed it.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
