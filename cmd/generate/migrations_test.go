package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/devservices/devtest"
)

// snapshotTables is what the tests read of a snapshot: its tables' columns.
type snapshotTables struct {
	Tables []struct {
		Name    string `json:"name"`
		Columns []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Nullable bool   `json:"nullable"`
		} `json:"columns"`
	} `json:"tables"`
}

// checkRealised fails t unless every table and column of snapshot exists in the database of
// conn with a compatible type (compatible) and the same nullability.
func checkRealised(ctx context.Context, t *testing.T, conn *pgx.Conn, snapshot []byte) {
	t.Helper()
	var snap snapshotTables
	if err := json.Unmarshal(snapshot, &snap); err != nil {
		t.Fatal(err)
	}
	for _, tb := range snap.Tables {
		rows, err := conn.Query(ctx, `SELECT column_name, data_type, is_nullable = 'YES', character_maximum_length, numeric_precision, numeric_scale
  FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, tb.Name)
		if err != nil {
			t.Fatal(err)
		}
		type dbColumn struct {
			dataType          string
			nullable          bool
			length, precision *int32
			scale             *int32
		}
		have := map[string]dbColumn{}
		for rows.Next() {
			var name string
			var c dbColumn
			if err := rows.Scan(&name, &c.dataType, &c.nullable, &c.length, &c.precision, &c.scale); err != nil {
				t.Fatal(err)
			}
			have[name] = c
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(have) == 0 {
			t.Errorf("table %s: not in the database", tb.Name)
			continue
		}
		for _, c := range tb.Columns {
			d, ok := have[c.Name]
			switch {
			case !ok:
				t.Errorf("%s.%s: not in the database", tb.Name, c.Name)
			case !compatible(c.Type, d.dataType, d.length, d.precision, d.scale):
				t.Errorf("%s.%s: %s in the database, %s in the snapshot", tb.Name, c.Name, d.dataType, c.Type)
			case d.nullable != c.Nullable:
				t.Errorf("%s.%s: nullable %v in the database, %v in the snapshot", tb.Name, c.Name, d.nullable, c.Nullable)
			}
		}
	}
}

var (
	varcharRE = regexp.MustCompile(`^varchar\(([0-9]+)\)$`)
	numericRE = regexp.MustCompile(`^numeric\(([0-9]+),([0-9]+)\)$`)
)

// compatible reports whether a column of information_schema's dataType (with its length,
// precision and scale) holds every value the engine writes to a snapshot column of sqlType
// and gives back what the engine reads: the same type, where a varchar(n) of the snapshot may
// be text or a varchar at least as long (the engine bounds the length itself), and a numeric
// (p,s) an unconstrained numeric or one of the same scale and at least the precision.
func compatible(sqlType, dataType string, length, precision, scale *int32) bool {
	if m := varcharRE.FindStringSubmatch(sqlType); m != nil {
		var n int32
		fmt.Sscan(m[1], &n)
		return dataType == "text" || dataType == "character varying" && (length == nil || *length >= n)
	}
	if m := numericRE.FindStringSubmatch(sqlType); m != nil {
		var p, s int32
		fmt.Sscan(m[1], &p)
		fmt.Sscan(m[2], &s)
		return dataType == "numeric" && (precision == nil || *precision >= p && scale != nil && *scale == s)
	}
	want := map[string]string{"text": "text", "uuid": "uuid", "integer": "integer", "bigint": "bigint", "boolean": "boolean",
		"double precision": "double precision", "numeric": "numeric", "date": "date", "timestamptz": "timestamp with time zone",
		"jsonb": "jsonb"}[sqlType]
	return want != "" && dataType == want
}

func TestCompatible(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	for _, c := range []struct {
		sqlType, dataType string
		length, prec, sc  *int32
		want              bool
	}{
		{"varchar(200)", "text", nil, nil, nil, true},
		{"varchar(200)", "character varying", n(200), nil, nil, true},
		{"varchar(200)", "character varying", n(100), nil, nil, false},
		{"text", "character varying", n(100), nil, nil, false},
		{"numeric(8,2)", "numeric", nil, nil, nil, true},
		{"numeric(8,2)", "numeric", nil, n(10), n(2), true},
		{"numeric(8,2)", "numeric", nil, n(10), n(3), false},
		{"timestamptz", "timestamp with time zone", nil, nil, nil, true},
		{"timestamptz", "timestamp without time zone", nil, nil, nil, false},
		{"integer", "bigint", nil, nil, nil, false},
		{"uuid", "uuid", nil, nil, nil, true},
	} {
		if got := compatible(c.sqlType, c.dataType, c.length, c.prec, c.sc); got != c.want {
			t.Errorf("compatible(%s, %s) = %v", c.sqlType, c.dataType, got)
		}
	}
}

func connect(ctx context.Context, t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(ctx)) })
	return conn
}

// TestBaseline checks what -baseline recorded: the hand-written migrations realise the tables
// of schema.json, every one of their columns with a compatible type and the same nullability.
// Indexes and constraints are not compared: the hand-written ones differ from the model's on
// purpose (partial live-row indexes instead of the model's plain ones, the tasks → projects
// composite key, CHECKs on lengths, organizations cascading), which is why apsorc.Diff drops
// them with IF EXISTS and creates indexes with IF NOT EXISTS.
func TestBaseline(t *testing.T) {
	snap := readFile(t, repoRoot, schemaFile)
	d := devtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkRealised(ctx, t, connect(ctx, t, d.PrimaryURL), snap)
}

// TestMigrationApplies makes the migration of a changed .apsorc (two entities added with a
// field of every type and every kind of relation, a column and an enum value added, a default
// with a semicolon) in a copy of the repository, as make generate does, and applies it with
// goose to a migrated database on top of the embedded migrations: up, down and up again. The
// tables after up are those of the new schema.json, after down those of the committed one.
func TestMigrationApplies(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, schemaFile)
	names, err := filepathGlob(repoRoot, migrationsDir+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	copyFiles(t, dir, names...)
	changed := rootWith(t, everyType, everyTypeRelations, func(es map[string]map[string]any) {
		p := es["Project"]
		p["fields"] = append(p["fields"].([]any), map[string]any{"name": "budget", "type": "decimal", "precision": 10, "scale": 2, "nullable": true})
		for _, f := range es["Task"]["fields"].([]any) {
			if f := f.(map[string]any); f["name"] == "status" {
				f["values"] = []string{"todo", "in_progress", "blocked", "done"}
			}
		}
	})
	s, err := apsorc.Parse(changed)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := migrationOutputs(dir, s, false)
	if err != nil {
		t.Fatal(err)
	}
	next := fmt.Sprintf("%05d", len(names)+1)
	if len(outs) != 2 || !regexp.MustCompile(`^shared/migrations/`+next+`_schema_[0-9a-f]{8}\.sql$`).MatchString(outs[0].path) {
		t.Fatalf("outputs %v, want the next migration and schema.json", paths(outs))
	}
	file := outs[0].data
	for _, want := range []string{"-- +goose Up\n", "-- +goose Down\n", "CREATE TABLE IF NOT EXISTS comments (", "-- +goose StatementBegin\n",
		"ALTER TABLE projects ADD COLUMN budget numeric(10,2);", "CREATE TABLE IF NOT EXISTS comment_labels ("} {
		if !bytes.Contains(file, []byte(want)) {
			t.Errorf("the migration lacks %q:\n%s", want, file)
		}
	}
	// The conventions shared/migrations' TestFiles holds every migration to: a comment says
	// why above every index.
	lines := strings.Split(string(file), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "CREATE INDEX") && (i == 0 || !strings.HasPrefix(lines[i-1], "--")) {
			t.Errorf("line %d: %s: no comment above it", i+1, l)
		}
	}
	for _, o := range outs {
		writeFile(t, dir, o.path, o.data)
	}
	// Written, the model is current: a second run plans nothing.
	if again, err := migrationOutputs(dir, s, false); err != nil || len(again) != 1 || !bytes.Equal(again[0].data, readFile(t, dir, schemaFile)) {
		t.Fatalf("a second run: %v, %v; want schema.json as written", paths(again), err)
	}

	d := devtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(d.PrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(filepath.Join(dir, migrationsDir)), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(ctx, t, d.PrimaryURL)
	before := readFile(t, repoRoot, schemaFile)
	after := readFile(t, dir, schemaFile)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("goose up: %v\n%s", err, file)
	}
	checkRealised(ctx, t, conn, after)
	if _, err := p.DownTo(ctx, 7); err != nil {
		t.Fatalf("goose down: %v", err)
	}
	checkRealised(ctx, t, conn, before)
	var tables int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename IN ('comments', 'labels', 'comment_labels')`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("after down, %d of the new tables are left (%v)", tables, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("goose up again: %v", err)
	}
	checkRealised(ctx, t, conn, after)
}

// TestBaselineFlag: without schema.json generate stops, naming -baseline; with -baseline it
// writes schema.json and no migration.
func TestBaselineFlag(t *testing.T) {
	dir := t.TempDir()
	copyFiles(t, dir, ".apsorc", templateFile, platformFile, hooksFile, migrationsDir+"/00001_organizations.sql")
	if _, err := run(dir, false, false, io.Discard); err == nil || !strings.Contains(err.Error(), "-baseline") {
		t.Fatalf("run without schema.json: %v, want an error naming -baseline", err)
	}
	stale, err := run(dir, false, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, dir, schemaFile), readFile(t, repoRoot, schemaFile)) {
		t.Error("-baseline wrote another snapshot than the repository's")
	}
	if got, _ := filepathGlob(dir, migrationsDir+"/*_schema_*.sql"); len(got) != 0 {
		t.Errorf("-baseline wrote a migration: %v", got)
	}
	if len(stale) != 2 || stale[0] != schemaFile || stale[1] != documentFile {
		t.Errorf("wrote %v, want schema.json and openapi.json (the copied template is current)", stale)
	}
	if stale, err := run(dir, true, false, io.Discard); err != nil || len(stale) != 0 {
		t.Errorf("-check after a run: %v, %v", stale, err)
	}
}

func paths(outs []output) []string {
	var ps []string
	for _, o := range outs {
		ps = append(ps, o.path)
	}
	return ps
}

// filepathGlob returns the files matching pattern under dir, as paths from dir.
func filepathGlob(dir, pattern string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pattern)))
	for i := range m {
		m[i], _ = filepath.Rel(dir, m[i])
		m[i] = filepath.ToSlash(m[i])
	}
	return m, err
}
