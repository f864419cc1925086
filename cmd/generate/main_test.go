package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/devservices/devtest"
)

// TestMain gives the migration tests the real PostgreSQL stack; the others don't start it.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// repoRoot is the repository, from this package's directory.
const repoRoot = "../.."

// TestCurrent is go run ./cmd/generate -check on the repository: every generated file is
// what the .apsorc makes.
func TestCurrent(t *testing.T) {
	stale, err := run(repoRoot, true, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		t.Errorf("%s is stale: run make generate", p)
	}
}

// everyType is an entity with a field of every type and every kind of relation to the root
// schema's entities, for the tests that need more than projects and tasks: a Comment on a
// task, by a user, with labels.
var everyType = []map[string]any{
	{"name": "Comment", "created_at": true, "primaryKeyType": "serial", "scaleapi": map[string]any{"softDelete": false, "deleteRole": "admin"},
		"fields": []map[string]any{
			{"name": "body", "type": "text", "length": 2000, "default": "it's; fine"},
			{"name": "kind", "type": "enum", "values": []string{"note", "question"}, "default": "note"},
			{"name": "rating", "type": "integer", "nullable": true},
			{"name": "score", "type": "float", "nullable": true},
			{"name": "amount", "type": "decimal", "precision": 8, "scale": 2, "nullable": true},
			{"name": "ratio", "type": "numeric", "nullable": true},
			{"name": "flagged", "type": "boolean", "default": false},
			{"name": "meta", "type": "json", "nullable": true},
			{"name": "postedOn", "type": "date", "nullable": true},
			{"name": "seenAt", "type": "timestamptz", "nullable": true},
			{"name": "code", "type": "text", "unique": true, "nullable": true},
		}},
	{"name": "Label", "fields": []map[string]any{{"name": "name", "type": "text", "length": 50}}},
}

var everyTypeRelations = []map[string]any{
	{"from": "Task", "to": "Comment", "type": "OneToMany", "cascadeDelete": true},
	{"from": "Comment", "to": "User", "type": "ManyToOne", "to_name": "author", "nullable": true},
	{"from": "Comment", "to": "Label", "type": "ManyToMany", "bi_directional": true},
}

// rootWith returns the root .apsorc with entities and relationships added, and edit applied to
// its entities (by name), as a file.
func rootWith(t *testing.T, entities, relationships []map[string]any, edit func(map[string]map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".apsorc"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, e := range doc["entities"].([]any) {
		byName[e.(map[string]any)["name"].(string)] = e.(map[string]any)
	}
	if edit != nil {
		edit(byName)
	}
	for _, e := range entities {
		doc["entities"] = append(doc["entities"].([]any), e)
	}
	for _, r := range relationships {
		doc["relationships"] = append(doc["relationships"].([]any), r)
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apsorc.Parse(b); err != nil {
		t.Fatalf("the test's schema: %v", err)
	}
	return b
}

// copyFiles copies files (paths from the repository root) under dir.
func copyFiles(t *testing.T, dir string, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, f, b)
	}
}

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
