package apsorc

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
)

// TestMain gives TestDiffApplies the real PostgreSQL stack; the other tests don't start it.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// The schema the diff cases change: projects with tasks.
const (
	pName     = `{"name": "name", "type": "text", "length": 200}`
	pStatus   = `{"name": "status", "type": "enum", "values": ["planning", "active"], "default": "planning"}`
	tTitle    = `{"name": "title", "type": "text"}`
	tEstimate = `{"name": "estimate", "type": "float", "nullable": true}`
	diffTasks = `{"from": "Project", "to": "Task", "type": "OneToMany", "cascadeDelete": true}`
)

func projects(fields string, keys ...string) string {
	return entity("Project", fields, append([]string{`"created_at": true`}, keys...)...)
}

// diffSchema is projects and tasks with the given fields, and more entities and relationships.
func diffSchema(projectFields, taskFields string, more ...string) []byte {
	ents := []string{projects(projectFields), task(taskFields)}
	rels := []string{diffTasks}
	for _, m := range more {
		if strings.HasPrefix(m, `{"from"`) {
			rels = append(rels, m)
		} else {
			ents = append(ents, m)
		}
	}
	return v2(strings.Join(ents, ","), rels...)
}

var diffBase = diffSchema(pName+","+pStatus, tTitle+","+tEstimate)

const tagTable = `CREATE TABLE IF NOT EXISTS tags (
    id uuid PRIMARY KEY,
    label text NOT NULL,
    organization_id uuid NOT NULL,
    version integer NOT NULL DEFAULT 1,
    deleted_at timestamptz`

// diffCases are pairs of schemas and the plan between them (down nil: not compared here;
// TestDiffApplies checks that it restores the old tables).
var diffCases = []struct {
	name     string
	old, new []byte
	up, down []string
}{
	{name: "unchanged", old: diffBase, new: diffBase},
	{name: "entity added", old: diffBase,
		new: diffSchema(pName+","+pStatus, tTitle+","+tEstimate, entity("Tag", `{"name": "label", "type": "text", "unique": true}`),
			`{"from": "Task", "to": "Tag", "type": "ManyToOne", "nullable": true}`),
		up: []string{
			tagTable + ",\n    CONSTRAINT tags_label_key UNIQUE (label)\n)",
			"ALTER TABLE tasks ADD COLUMN tag_id uuid",
			"ALTER TABLE tags ADD CONSTRAINT tags_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE RESTRICT",
			"ALTER TABLE tasks ADD CONSTRAINT tasks_tag_id_fkey FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE SET NULL",
			"-- Keyset pages of one organization's rows: the tenant scope, in id order.\n" +
				"CREATE INDEX IF NOT EXISTS tags_organization_id_id_idx ON tags (organization_id, id)",
			"-- The foreign key to tags: joins, /{id}/{relation} lists and ON DELETE from tags.\n" +
				"CREATE INDEX IF NOT EXISTS tasks_tag_id_idx ON tasks (tag_id)",
		},
		down: []string{
			"ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_tag_id_fkey",
			"DROP INDEX IF EXISTS tasks_tag_id_idx",
			"DROP TABLE tags",
			"ALTER TABLE tasks DROP COLUMN tag_id",
		}},
	{name: "entities dropped", old: diffBase, new: v2(entity("Note", `{"name": "body", "type": "text"}`)),
		up: []string{
			"-- Dropped: projects, tasks; created: notes. A renamed table looks the same: if one is, replace its DROP and CREATE with ALTER TABLE old RENAME TO new, or its rows are lost.\n" +
				"DROP TABLE projects, tasks",
			"CREATE TABLE IF NOT EXISTS notes (\n    id uuid PRIMARY KEY,\n    body text NOT NULL,\n    organization_id uuid NOT NULL,\n    version integer NOT NULL DEFAULT 1,\n    deleted_at timestamptz\n)",
			"ALTER TABLE notes ADD CONSTRAINT notes_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE RESTRICT",
			"-- Keyset pages of one organization's rows: the tenant scope, in id order.\n" +
				"CREATE INDEX IF NOT EXISTS notes_organization_id_id_idx ON notes (organization_id, id)",
		}},
	{name: "column renamed", old: diffBase, new: diffSchema(pName+","+pStatus, tTitle+`, {"name": "effort", "type": "float", "nullable": true}`),
		up: []string{
			"-- tasks.estimate is dropped while tasks gains effort: a renamed column looks the same. If it is one, replace the DROP and the ADD with ALTER TABLE tasks RENAME COLUMN estimate TO …, or its values are lost.\n" +
				"ALTER TABLE tasks DROP COLUMN estimate",
			"ALTER TABLE tasks ADD COLUMN effort double precision",
		},
		down: []string{
			"-- tasks.effort is dropped while tasks gains estimate: a renamed column looks the same. If it is one, replace the DROP and the ADD with ALTER TABLE tasks RENAME COLUMN effort TO …, or its values are lost.\n" +
				"ALTER TABLE tasks DROP COLUMN effort",
			"ALTER TABLE tasks ADD COLUMN estimate double precision",
		}},
	{name: "types changed", old: diffBase,
		new: diffSchema(`{"name": "name", "type": "text", "length": 500},`+pStatus, tTitle+`, {"name": "estimate", "type": "integer", "nullable": true}`),
		up: []string{
			"ALTER TABLE projects ALTER COLUMN name TYPE varchar(500)",
			"-- Casts every value to integer: fails on one that doesn't convert.\nALTER TABLE tasks ALTER COLUMN estimate TYPE integer USING estimate::integer",
		},
		down: []string{
			"-- Fails on a value longer than 200 characters.\nALTER TABLE projects ALTER COLUMN name TYPE varchar(200)",
			"ALTER TABLE tasks ALTER COLUMN estimate TYPE double precision USING estimate::double precision",
		}},
	{name: "nullability changed", old: diffBase,
		new: diffSchema(`{"name": "name", "type": "text", "length": 200, "nullable": true},`+pStatus, tTitle+`, {"name": "estimate", "type": "float"}`),
		up: []string{
			"ALTER TABLE projects ALTER COLUMN name DROP NOT NULL",
			"-- Fails while the column holds NULLs: backfill them first.\nALTER TABLE tasks ALTER COLUMN estimate SET NOT NULL",
		},
		down: []string{
			"-- Fails while the column holds NULLs: backfill them first.\nALTER TABLE projects ALTER COLUMN name SET NOT NULL",
			"ALTER TABLE tasks ALTER COLUMN estimate DROP NOT NULL",
		}},
	{name: "defaults changed", old: diffBase,
		new: diffSchema(pName+`, {"name": "status", "type": "enum", "values": ["planning", "active"], "default": "active"}`,
			`{"name": "title", "type": "text", "default": "it's; new"},`+tEstimate),
		up: []string{
			"ALTER TABLE projects ALTER COLUMN status SET DEFAULT 'active'",
			"ALTER TABLE tasks ALTER COLUMN title SET DEFAULT 'it''s; new'",
		},
		down: []string{
			"ALTER TABLE projects ALTER COLUMN status SET DEFAULT 'planning'",
			"ALTER TABLE tasks ALTER COLUMN title DROP DEFAULT",
		}},
	{name: "type and default changed", old: diffSchema(pName+","+pStatus, tTitle+`, {"name": "estimate", "type": "float", "default": 1.5}`),
		new: diffSchema(pName+","+pStatus, tTitle+`, {"name": "estimate", "type": "integer", "default": 2}`),
		up: []string{
			"ALTER TABLE tasks ALTER COLUMN estimate DROP DEFAULT",
			"-- Casts every value to integer: fails on one that doesn't convert.\nALTER TABLE tasks ALTER COLUMN estimate TYPE integer USING estimate::integer",
			"ALTER TABLE tasks ALTER COLUMN estimate SET DEFAULT 2",
		}},
	{name: "enum values changed", old: diffBase,
		new: diffSchema(pName+`, {"name": "status", "type": "enum", "values": ["planning", "active", "done"], "default": "planning"}`, tTitle+","+tEstimate),
		up: []string{
			"ALTER TABLE projects DROP CONSTRAINT IF EXISTS projects_status_check",
			"-- Fails while a row breaks the new check (a value it no longer allows).\n" +
				"ALTER TABLE projects ADD CONSTRAINT projects_status_check CHECK (status IN ('planning', 'active', 'done'))",
		},
		down: []string{
			"ALTER TABLE projects DROP CONSTRAINT IF EXISTS projects_status_check",
			"-- Fails while a row breaks the new check (a value it no longer allows).\n" +
				"ALTER TABLE projects ADD CONSTRAINT projects_status_check CHECK (status IN ('planning', 'active'))",
		}},
	{name: "indexes and uniques",
		old: v2(projects(pName+","+pStatus, `"indexes": [{"fields": ["name"]}]`)+","+task(tTitle+","+tEstimate), diffTasks),
		new: v2(projects(pName+","+pStatus, `"indexes": [{"fields": ["status", "name"]}]`)+","+task(tTitle+","+tEstimate, `"uniques": [{"fields": ["title"]}]`), diffTasks),
		up: []string{
			"DROP INDEX IF EXISTS projects_name_idx",
			"-- Fails while two rows share a value.\nALTER TABLE tasks ADD CONSTRAINT tasks_title_key UNIQUE (title)",
			"-- Declared in the .apsorc (indexes, or index: true on a field or relation).\n" +
				"CREATE INDEX IF NOT EXISTS projects_status_name_idx ON projects (status, name)",
		},
		down: []string{
			"ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_title_key",
			"DROP INDEX IF EXISTS projects_status_name_idx",
			"-- Declared in the .apsorc (indexes, or index: true on a field or relation).\n" +
				"CREATE INDEX IF NOT EXISTS projects_name_idx ON projects (name)",
		}},
	{name: "required column added", old: diffBase,
		new: diffSchema(pName+","+pStatus, tTitle+","+tEstimate+`, {"name": "points", "type": "integer"}, {"name": "done", "type": "boolean", "default": false}`),
		up: []string{
			"-- NOT NULL without a default: fails on a table that has rows. If it has, add the column nullable, backfill it, then SET NOT NULL.\n" +
				"ALTER TABLE tasks ADD COLUMN points integer NOT NULL",
			"ALTER TABLE tasks ADD COLUMN done boolean NOT NULL DEFAULT false",
		},
		down: []string{"ALTER TABLE tasks DROP COLUMN points", "ALTER TABLE tasks DROP COLUMN done"}},
	{name: "many to many added", old: diffBase,
		new: diffSchema(pName+","+pStatus, tTitle+","+tEstimate, entity("Tag", `{"name": "label", "type": "text"}`),
			`{"from": "Task", "to": "Tag", "type": "ManyToMany"}`),
		up: []string{
			tagTable + "\n)",
			"CREATE TABLE IF NOT EXISTS task_tags (\n    task_id uuid NOT NULL,\n    tag_id uuid NOT NULL,\n    PRIMARY KEY (task_id, tag_id)\n)",
			"ALTER TABLE tags ADD CONSTRAINT tags_organization_id_fkey FOREIGN KEY (organization_id) REFERENCES organizations (id) ON DELETE RESTRICT",
			"ALTER TABLE task_tags ADD CONSTRAINT task_tags_tag_id_fkey FOREIGN KEY (tag_id) REFERENCES tags (id) ON DELETE CASCADE",
			"ALTER TABLE task_tags ADD CONSTRAINT task_tags_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE",
			"-- Keyset pages of one organization's rows: the tenant scope, in id order.\n" +
				"CREATE INDEX IF NOT EXISTS tags_organization_id_id_idx ON tags (organization_id, id)",
			"-- The foreign key to tags: joins, /{id}/{relation} lists and ON DELETE from tags.\n" +
				"CREATE INDEX IF NOT EXISTS task_tags_tag_id_idx ON task_tags (tag_id)",
		},
		down: []string{"DROP TABLE tags, task_tags"}},
	{name: "join columns renamed",
		old: diffSchema(pName+","+pStatus, tTitle+","+tEstimate, entity("Tag", `{"name": "label", "type": "text"}`),
			`{"from": "Task", "to": "Tag", "type": "ManyToMany"}`),
		new: diffSchema(pName+","+pStatus, tTitle+","+tEstimate, entity("Tag", `{"name": "label", "type": "text"}`),
			`{"from": "Task", "to": "Tag", "type": "ManyToMany", "joinColumnName": "the_task_id"}`),
		up: []string{
			"ALTER TABLE task_tags DROP CONSTRAINT IF EXISTS task_tags_task_id_fkey",
			"ALTER TABLE task_tags DROP CONSTRAINT IF EXISTS task_tags_pkey",
			"-- task_tags.task_id is dropped while task_tags gains the_task_id: a renamed column looks the same. If it is one, replace the DROP and the ADD with ALTER TABLE task_tags RENAME COLUMN task_id TO …, or its values are lost.\n" +
				"ALTER TABLE task_tags DROP COLUMN task_id",
			"-- NOT NULL without a default: fails on a table that has rows. If it has, add the column nullable, backfill it, then SET NOT NULL.\n" +
				"ALTER TABLE task_tags ADD COLUMN the_task_id uuid NOT NULL",
			"ALTER TABLE task_tags ADD PRIMARY KEY (the_task_id, tag_id)",
			"ALTER TABLE task_tags ADD CONSTRAINT task_tags_the_task_id_fkey FOREIGN KEY (the_task_id) REFERENCES tasks (id) ON DELETE CASCADE",
		}},
	{name: "soft delete off, updated_at on", old: diffBase,
		new: v2(projects(pName+","+pStatus)+","+task(tTitle+","+tEstimate, `"updated_at": true`, `"scaleapi": {"softDelete": false}`), diffTasks),
		up: []string{
			"-- tasks.deleted_at is dropped while tasks gains updated_at: a renamed column looks the same. If it is one, replace the DROP and the ADD with ALTER TABLE tasks RENAME COLUMN deleted_at TO …, or its values are lost.\n" +
				"-- Soft delete ends: the rows deleted so far are live again. Put DELETE FROM tasks WHERE deleted_at IS NOT NULL before this if they should stay gone.\n" +
				"ALTER TABLE tasks DROP COLUMN deleted_at",
			"ALTER TABLE tasks ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()",
		}},
}

func snap(t *testing.T, data []byte) []byte {
	t.Helper()
	b, err := mustParse(t, data).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDiff(t *testing.T) {
	for _, c := range diffCases {
		t.Run(c.name, func(t *testing.T) {
			old, new := snap(t, c.old), snap(t, c.new)
			up, down, err := Diff(old, new)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(up, c.up) {
				t.Errorf("up:\n%s\n\nwant:\n%s", strings.Join(up, ";\n"), strings.Join(c.up, ";\n"))
			}
			if c.down != nil && !slices.Equal(down, c.down) {
				t.Errorf("down:\n%s\n\nwant:\n%s", strings.Join(down, ";\n"), strings.Join(c.down, ";\n"))
			}
			if (len(up) == 0) != (len(down) == 0) {
				t.Errorf("up has %d statements, down %d: one undoes the other", len(up), len(down))
			}
			again, _, _ := Diff(old, new)
			if !slices.Equal(again, up) {
				t.Error("two diffs of the same snapshots differ")
			}
		})
	}
}

func TestDiffRefuses(t *testing.T) {
	serial := v2(projects(pName+","+pStatus, `"primaryKeyType": "serial"`)+","+task(tTitle+","+tEstimate), diffTasks)
	for _, c := range []struct {
		name     string
		old, new []byte
		want     string
	}{
		{"key type", snap(t, diffBase), snap(t, serial),
			"table projects: key column id changes from uuid to bigint identity: its ids and every reference to them would have to be rewritten"},
		{"key type back", snap(t, serial), snap(t, diffBase), "table projects: key column id changes from bigint identity to uuid"},
		{"not JSON", []byte("{"), snap(t, diffBase), "old snapshot: unexpected EOF"},
		{"another format", snap(t, diffBase), []byte(`{"format": 2, "tables": []}`), "new snapshot: format 2, want 1"},
		{"unknown key", []byte(`{"format": 1, "tables": [], "views": []}`), snap(t, diffBase), `old snapshot: json: unknown field "views"`},
		{"table twice", []byte(`{"format": 1, "tables": [{"name": "a", "columns": [{"name": "id", "type": "uuid"}]}, {"name": "a", "columns": []}]}`),
			snap(t, diffBase), `old snapshot: table "a" is unnamed or listed twice`},
		{"column twice", []byte(`{"format": 1, "tables": [{"name": "a", "columns": [{"name": "id", "type": "uuid"}, {"name": "id", "type": "uuid"}]}]}`),
			snap(t, diffBase), `old snapshot: table a: column "id" is unnamed, untyped or listed twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			up, down, err := Diff(c.old, c.new)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Diff = %q, %q, %v; want an error containing %q", up, down, err, c.want)
			}
		})
	}
}

// TestDiffApplies runs every case against PostgreSQL, each in a schema of its own (the
// platform's organizations and users are in public): the old tables as CreateSQL makes them,
// then up, must be the new tables as CreateSQL makes them, column for column and constraint
// for constraint; down must give the old ones back, and up again the new.
func TestDiffApplies(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.PrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for i, c := range diffCases {
		t.Run(c.name, func(t *testing.T) {
			old, new := mustParse(t, c.old), mustParse(t, c.new)
			up, down, err := Diff(snap(t, c.old), snap(t, c.new))
			if err != nil {
				t.Fatal(err)
			}
			run := func(schema string, stmts []string) {
				t.Helper()
				if _, err := conn.Exec(ctx, "SET search_path = "+schema+", public"); err != nil {
					t.Fatal(err)
				}
				for _, st := range stmts {
					if _, err := conn.Exec(ctx, st); err != nil {
						t.Fatalf("%s: %v", st, err)
					}
				}
			}
			fresh := func(name string, s *Schema) string {
				schema := fmt.Sprintf("diff_%d_%s", i, name)
				run("public", []string{"CREATE SCHEMA " + schema})
				run(schema, s.CreateSQL())
				return catalog(ctx, t, conn, schema)
			}
			wantOld, wantNew := fresh("old", old), fresh("new", new)
			schema := fmt.Sprintf("diff_%d_migrated", i)
			run("public", []string{"CREATE SCHEMA " + schema})
			run(schema, old.CreateSQL())
			for _, step := range []struct {
				name  string
				stmts []string
				want  string
			}{{"up", up, wantNew}, {"down", down, wantOld}, {"up again", up, wantNew}} {
				run(schema, step.stmts)
				if got := catalog(ctx, t, conn, schema); got != step.want {
					t.Fatalf("after %s:\n%s\n\nwant (CreateSQL's):\n%s", step.name, got, step.want)
				}
			}
		})
	}
}

// catalog describes schema's tables for comparison: every column (type, NOT NULL, default),
// constraint and index, sorted, without the schema's name.
func catalog(ctx context.Context, t *testing.T, conn *pgx.Conn, schema string) string {
	t.Helper()
	rows, err := conn.Query(ctx, `
SELECT format('column %s.%s %s%s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
              CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
              coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') || CASE WHEN a.attidentity <> '' THEN ' IDENTITY' ELSE '' END)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = $1::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT format('constraint %s.%s %s', c.relname, con.conname, pg_get_constraintdef(con.oid))
  FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
 WHERE c.relnamespace = $1::regnamespace AND con.contype <> 'n'
UNION ALL
SELECT format('index %s', pg_get_indexdef(i.indexrelid))
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
 WHERE c.relnamespace = $1::regnamespace`, schema)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.ReplaceAll(strings.Join(lines, "\n"), schema+".", "")
}
