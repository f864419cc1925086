package apsorc

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// v2 is a version 2 file of entities and relationships (JSON objects, comma-separated), with
// the auth block that maps User and AccountUser onto the platform.
func v2(entities string, relationships ...string) []byte {
	return []byte(`{"version": 2, "auth": {"provider": "custom-db-session"}, "entities": [` + entities + `], "relationships": [` +
		strings.Join(relationships, ",") + `]}`)
}

// task is an entity Task with fields (JSON objects, comma-separated) and extra entity keys.
func task(fields string, extra ...string) string {
	return entity("Task", fields, extra...)
}

func entity(name, fields string, extra ...string) string {
	s := `{"name": "` + name + `", "fields": [` + fields + `]`
	for _, x := range extra {
		s += ", " + x
	}
	return s + "}"
}

const (
	title   = `{"name": "title", "type": "text"}`
	project = `{"name": "Project", "fields": [{"name": "name", "type": "text"}]}`
)

func mustParse(t *testing.T, data []byte) *Schema {
	t.Helper()
	s, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\nfile: %s", err, data)
	}
	return s
}

// problemsOf parses data, which must be refused, and returns its problems.
func problemsOf(t *testing.T, data []byte) []string {
	t.Helper()
	s, err := Parse(data)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse = %v, %v; want an *Error\nfile: %s", s, err, data)
	}
	return e.Problems
}

func mustEntity(t *testing.T, s *Schema, name string) *Entity {
	t.Helper()
	e, ok := s.Entity(name)
	if !ok {
		t.Fatalf("no entity %q", name)
	}
	return e
}

func mustField(t *testing.T, e *Entity, name string) *Field {
	t.Helper()
	f, ok := e.Field(name)
	if !ok {
		t.Fatalf("entity %s: no field %q", e.Name, name)
	}
	return f
}

func mustRelation(t *testing.T, e *Entity, name string) *Relation {
	t.Helper()
	r, ok := e.Relation(name)
	if !ok {
		names := []string{}
		for _, r := range e.Relations {
			names = append(names, r.Name)
		}
		t.Fatalf("entity %s: no relation %q (has %v)", e.Name, name, names)
	}
	return r
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ name, table, path, noun string }{
		{"Project", "projects", "projects", "project"},
		{"WorkspaceUser", "workspace_users", "workspaceusers", "workspaceuser"},
		{"BandwidthUsage", "bandwidth_usages", "bandwidthusages", "bandwidthusage"},
		{"Person", "people", "people", "person"},
		{"SalesPerson", "sales_people", "salespeople", "salesperson"},
		{"Category", "categories", "categories", "category"},
		{"Order", "orders", "orders", "order"},
		{"APIKey", "api_keys", "apikeys", "apikey"},
		{"account", "accounts", "accounts", "account"},
	} {
		e := mustEntity(t, mustParse(t, v2(entity(c.name, title))), c.name)
		if e.Table != c.table || e.Path != c.path || e.Noun != c.noun {
			t.Errorf("%s: table, path, noun = %s, %s, %s; want %s, %s, %s", c.name, e.Table, e.Path, e.Noun, c.table, c.path, c.noun)
		}
	}
	for in, want := range map[string]string{"fullName": "full_name", "cognito_id": "cognito_id", "logoURL": "logo_url",
		"streetAddress1": "street_address1", "HTTPServer": "http_server", "user_ID": "user_id", "a1B": "a1_b"} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"WorkspaceUser": "workspaceUser", "network_stack": "networkStack",
		"networkStack": "networkStack", "Application-Service": "applicationService", "APIKey": "apikey", "User": "user"} {
		if got := camelCase(in); got != want {
			t.Errorf("camelCase(%q) = %q, want %q", in, got, want)
		}
	}
	e := mustEntity(t, mustParse(t, v2(task(title, `"table": "todo_items"`))), "Task")
	if e.Table != "todo_items" || e.Path != "tasks" {
		t.Errorf("table key: table %s path %s", e.Table, e.Path)
	}
}

func TestObjectName(t *testing.T) {
	if got := objectName("idx", "tasks", "project_id"); got != "tasks_project_id_idx" {
		t.Errorf("short name = %s", got)
	}
	long := strings.Repeat("a", 40)
	a := objectName("idx", long, "first_column_of_many")
	b := objectName("idx", long, "first_column_of_other")
	if len(a) != maxIdent || len(b) != maxIdent || a == b || !strings.HasSuffix(a, "_idx") || identProblem(a) != "" {
		t.Errorf("long names %q, %q: want 63 bytes, distinct, valid, ending in _idx", a, b)
	}
}

func TestFieldTypes(t *testing.T) {
	for _, c := range []struct {
		json string
		typ  Type
		sql  string
	}{
		{`"type": "text"`, Text, "text"},
		{`"type": "text", "length": 80`, Text, "varchar(80)"},
		{`"type": "text", "length": "255"`, Text, "varchar(255)"},
		{`"type": "enum", "values": ["a", "b"]`, Enum, "text"},
		{`"type": "integer"`, Integer, "integer"},
		{`"type": "boolean"`, Boolean, "boolean"},
		{`"type": "float"`, Float, "double precision"},
		{`"type": "decimal", "precision": 10, "scale": 3`, Decimal, "numeric(10,3)"},
		{`"type": "numeric", "precision": 5`, Decimal, "numeric(5,0)"},
		{`"type": "numeric"`, Decimal, "numeric"},
		{`"type": "date"`, Date, "date"},
		{`"type": "timestamptz"`, Timestamptz, "timestamptz"},
		{`"type": "timestamp"`, Timestamptz, "timestamptz"},
		{`"type": "datetime"`, Timestamptz, "timestamptz"},
		{`"type": "json"`, JSON, "jsonb"},
		{`"type": "json-plain"`, JSON, "jsonb"},
	} {
		s := mustParse(t, v2(task(`{"name": "x", `+c.json+`}`)))
		f := mustField(t, mustEntity(t, s, "Task"), "x")
		if f.Type != c.typ || sqlType(f) != c.sql {
			t.Errorf("%s: type %d (%s), want %d (%s)", c.json, f.Type, sqlType(f), c.typ, c.sql)
		}
	}
	f := mustField(t, mustEntity(t, mustParse(t, v2(task(
		`{"name": "email", "type": "text", "nullable": "true", "unique": true, "is_email": true, "index": true}`))), "Task"), "email")
	if !f.Nullable || !f.Unique || !f.Email || f.Column != "email" {
		t.Errorf("flags: %+v", f)
	}
	f = mustField(t, mustEntity(t, mustParse(t, v2(task(`{"name": "x", "type": "text", "nullable": "false"}`))), "Task"), "x")
	if f.Nullable {
		t.Error(`nullable "false" made a nullable field`)
	}
}

func TestDefaults(t *testing.T) {
	for _, c := range []struct {
		field string
		want  any
		sql   string
	}{
		{`"type": "text", "default": "it's"`, "it's", `'it''s'`},
		{`"type": "text", "default": "C:\\temp"`, `C:\temp`, `E'C:\\temp'`},
		{`"type": "enum", "values": ["low", "high"], "default": "high"`, "high", `'high'`},
		{`"type": "integer", "default": 7`, json.Number("7"), "7"},
		{`"type": "integer", "default": "-7"`, json.Number("-7"), "-7"},
		{`"type": "boolean", "default": false`, false, "false"},
		{`"type": "boolean", "default": "true"`, true, "true"},
		{`"type": "float", "default": 1.50`, json.Number("1.5"), "1.5"},
		{`"type": "float", "default": "2e3"`, json.Number("2000"), "2000"},
		{`"type": "decimal", "precision": 10, "scale": 2, "default": "12.50"`, json.Number("12.50"), "12.50"},
		{`"type": "decimal", "default": 0`, json.Number("0"), "0"},
		{`"type": "date", "default": "2024-02-29"`, "2024-02-29", `'2024-02-29'`},
		{`"type": "timestamptz", "default": "2024-01-02T15:04:05+02:00"`, "2024-01-02T13:04:05Z", `'2024-01-02T13:04:05Z'`},
		{`"type": "text", "default": null`, nil, ""},
	} {
		s := mustParse(t, v2(task(`{"name": "x", `+c.field+`}`)))
		f := mustField(t, mustEntity(t, s, "Task"), "x")
		if f.Default != c.want {
			t.Errorf("%s: Default = %#v, want %#v", c.field, f.Default, c.want)
		}
		if c.want != nil && literal(f.Default) != c.sql {
			t.Errorf("%s: literal = %s, want %s", c.field, literal(f.Default), c.sql)
		}
	}
	for _, c := range []struct{ field, msg string }{
		{`"type": "text", "default": 5`, "must be a string"},
		{`"type": "text", "length": 3, "default": "abcd"`, "longer than the field's length 3"},
		{`"type": "text", "is_email": true, "default": "nobody"`, "not an email address"},
		{`"type": "enum", "values": ["low", "high"], "default": "medium"`, "not one of the enum's values"},
		{`"type": "integer", "default": 1.5`, "must be an integer"},
		{`"type": "integer", "default": 3000000000`, "must be an integer"},
		{`"type": "integer", "default": true`, "must be an integer"},
		{`"type": "boolean", "default": "yes"`, "must be true or false"},
		{`"type": "float", "default": "Inf"`, "must be a number"},
		{`"type": "float", "default": 1e999`, "must be a number"},
		{`"type": "decimal", "default": "1e3"`, "must be a decimal number"},
		{`"type": "decimal", "precision": 4, "scale": 2, "default": "123.4"`, "2 digits before the point"},
		{`"type": "decimal", "precision": 4, "scale": 2, "default": "1.234"`, "2 digits after the point"},
		{`"type": "date", "default": "2023-02-29"`, "must be a date"},
		{`"type": "date", "default": "now()"`, "must be a date"},
		{`"type": "timestamptz", "default": "now()"`, "must be an RFC 3339 time"},
		{`"type": "json", "default": "{}"`, "a json field takes no default"},
		{`"type": "text", "default": {"a": 1}`, "must be a string"},
	} {
		ps := problemsOf(t, v2(task(`{"name": "x", `+c.field+`}`)))
		if len(ps) != 1 || !strings.HasPrefix(ps[0], `entity "Task" field "x": default `) || !strings.Contains(ps[0], c.msg) {
			t.Errorf("%s: problems %q, want one on Task.x containing %q", c.field, ps, c.msg)
		}
	}
}

func TestProblems(t *testing.T) {
	user := func(fields string, extra ...string) string { return entity("User", fields, extra...) }
	for _, c := range []struct {
		name string
		file []byte
		want []string // each must be one of the problems, or part of one
	}{
		{"unknown top-level key", []byte(`{"version": 2, "colour": 1, "entities": [` + task(title) + `]}`), []string{`unknown key "colour"`}},
		{"unknown entity key", v2(task(title, `"colour": "red"`)), []string{`entity "Task": unknown key "colour"`}},
		{"unknown field key", v2(task(`{"name": "title", "type": "text", "size": 3}`)), []string{`entity "Task" field "title": unknown key "size"`}},
		{"unknown relationship key", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne", "weight": 1}`),
			[]string{`relationship 1 (Task ManyToOne Project): unknown key "weight"`}},
		{"unknown scaleapi key", v2(task(title, `"scaleapi": {"ttl": 5}`)), []string{`entity "Task" scaleapi: unknown key "ttl"`}},
		{"unknown scopeOptions key", v2(task(title, `"scopeOptions": {"strict": true}`)), []string{`entity "Task" scopeOptions: unknown key "strict"`}},
		{"unknown auth key", []byte(`{"version": 2, "auth": {"provider": "better-auth", "secret": "x"}, "entities": [` + task(title) + `]}`),
			[]string{`auth: unknown key "secret"`}},
		{"unknown index key", v2(task(title, `"indexes": [{"fields": ["title"], "where": "x"}]`)), []string{`entity "Task" index 1: unknown key "where"`}},
		{"unknown association key", []byte(`{"entities": [` + task(title, `"associations": [{"name": "Project", "type": "ManyToOne", "eager": true}]`) + `,` + project + `]}`),
			[]string{`entity "Task" association 1 (Project): unknown key "eager"`}},
		{"duplicate key", v2(task(title, `"http": true, "http": false`)), []string{`entity "Task": key "http" appears twice`}},
		{"invalid JSON", []byte("{\n  \"version\": 2,\n  \"entities\": [}\n"), []string{"invalid JSON at line 3, column 16"}},
		{"trailing data", []byte(`{"version": 2} {}`), []string{"more after the top-level object"}},
		{"not an object", []byte(`[1]`), []string{"must be an object"}},
		{"version", []byte(`{"version": 3, "entities": [` + task(title) + `]}`), []string{`"version" must be an integer from 1 to 2`}},
		{"relationships in v1", []byte(`{"entities": [` + task(title) + `], "relationships": []}`), []string{`"relationships" is a version 2 key`}},
		{"associations in v2", v2(task(title, `"associations": []`)), []string{`entity "Task": "associations" is a version 1 key`}},
		{"emitEvents", []byte(`{"version": 2, "emitEvents": true, "entities": [` + task(title, `"emitEvents": true`) + `]}`),
			[]string{`"emitEvents": scaleapi emits no domain events`, `entity "Task": "emitEvents": scaleapi emits no domain events`}},
		{"no entities", v2(""), []string{"no entity for the engine to serve"}},
		{"only platform entities", v2(user(`{"name": "email", "type": "text"}`)), []string{"no entity for the engine to serve"}},
		{"entity without name", v2(`{"fields": []}`), []string{`entity 1: "name" is required`}},
		{"entity name", v2(entity("Task-List", title)), []string{`entity 1: name "Task-List" is not a name`}},
		{"entity twice", v2(task(title) + "," + task(title)), []string{`entity 2: entity "Task" is declared twice`}},
		{"same lower-case name", v2(task(title) + "," + entity("task", title)), []string{`entity "task": entity "Task" has the same lower-case name`}},
		{"same path", v2(entity("Person", title) + "," + entity("People", title)), []string{`entity "People": its path "people" is entity "Person"'s too`}},
		{"primaryKeyType", v2(task(title, `"primaryKeyType": "bigserial"`)), []string{`entity "Task": primaryKeyType "bigserial" must be "uuid" or "serial"`}},

		{"enum without values", v2(task(`{"name": "priority", "type": "enum"}`)), []string{`entity "Task" field "priority": enum needs values`}},
		{"enum with no values", v2(task(`{"name": "priority", "type": "enum", "values": []}`)), []string{`entity "Task" field "priority": enum needs values`}},
		{"enum value twice", v2(task(`{"name": "priority", "type": "enum", "values": ["low", "low"]}`)), []string{`entity "Task" field "priority": enum value "low" appears twice`}},
		{"enum empty value", v2(task(`{"name": "priority", "type": "enum", "values": ["low", ""]}`)), []string{`entity "Task" field "priority": "values" must be an array of non-empty strings`}},
		{"values on text", v2(task(`{"name": "title", "type": "text", "values": ["a"]}`)), []string{`entity "Task" field "title": "values" applies to enum fields only`}},
		{"PostGIS", v2(task(`{"name": "location", "type": "point"}`)),
			[]string{`entity "Task" field "location": type "point" is not supported (PostGIS types need the PostGIS extension, which scaleapi does not install)`}},
		{"array", v2(task(`{"name": "tags", "type": "array"}`)), []string{`entity "Task" field "tags": type "array" is not supported`}},
		{"unknown type", v2(task(`{"name": "title", "type": "string"}`)), []string{`entity "Task" field "title": type "string" is unknown`}},
		{"no type", v2(task(`{"name": "title"}`)), []string{`entity "Task" field "title": "type" is required`}},
		{"field without name", v2(task(`{"type": "text"}`)), []string{`entity "Task" field 1: "name" is required`}},
		{"field name", v2(task(`{"name": "full-name", "type": "text"}`)), []string{`entity "Task" field 1: name "full-name" is not a name`}},
		{"field twice", v2(task(title + "," + title)), []string{`entity "Task": field "title" is declared twice`}},
		{"engine's id", v2(task(`{"name": "id", "type": "integer", "primary": true}`)),
			[]string{`entity "Task" field "id": the engine adds it`, `entity "Task" field "id": "primary" is not supported`}},
		{"engine's createdAt", v2(task(`{"name": "createdAt", "type": "timestamptz"}`)), []string{`entity "Task" field "createdAt": the engine adds it`}},
		{"engine's version", v2(task(`{"name": "version", "type": "integer"}`)), []string{`entity "Task" field "version": the engine adds it`}},
		{"same column", v2(task(`{"name": "fullName", "type": "text"}, {"name": "full_name", "type": "text"}`)),
			[]string{`entity "Task": field "fullName" and field "full_name" have the same column "full_name"`}},
		{"length on integer", v2(task(`{"name": "n", "type": "integer", "length": 4}`)), []string{`entity "Task" field "n": "length" applies to text fields only`}},
		{"length", v2(task(`{"name": "title", "type": "text", "length": "12a"}`)), []string{`entity "Task" field "title": "length" must be an integer from 1 to 10485760`}},
		{"zero length", v2(task(`{"name": "title", "type": "text", "length": 0}`)), []string{`entity "Task" field "title": "length" must be an integer from 1`}},
		{"is_email on integer", v2(task(`{"name": "n", "type": "integer", "is_email": true}`)), []string{`entity "Task" field "n": "is_email" applies to text fields only`}},
		{"precision", v2(task(`{"name": "amount", "type": "decimal", "precision": 1001}`)), []string{`entity "Task" field "amount": "precision" must be an integer from 1 to 1000`}},
		{"scale above precision", v2(task(`{"name": "amount", "type": "decimal", "precision": 4, "scale": 5}`)), []string{`entity "Task" field "amount": "scale" must be an integer from 0 to 4`}},
		{"scale without precision", v2(task(`{"name": "amount", "type": "numeric", "scale": 2}`)), []string{`entity "Task" field "amount": "scale" needs "precision"`}},
		{"precision on float", v2(task(`{"name": "amount", "type": "float", "precision": 4}`)), []string{`entity "Task" field "amount": "precision" applies to decimal and numeric fields only`}},
		{"nullable", v2(task(`{"name": "title", "type": "text", "nullable": "yes"}`)), []string{`entity "Task" field "title": "nullable" must be true or false`}},

		{"reserved table", v2(entity("Reference", title)), []string{`entity "Reference": table "references" is a PostgreSQL reserved word; set "table"`}},
		{"reserved table key", v2(entity("Order", title, `"table": "order"`)), []string{`entity "Order": table "order" is a PostgreSQL reserved word; set "table"`}},
		{"table case", v2(task(title, `"table": "Tasks"`)), []string{`entity "Task": table "Tasks" is not a lower-case snake_case identifier`}},
		{"long table", v2(entity("A"+strings.Repeat("b", 70), title)), []string{`table "a` + strings.Repeat("b", 70) + `s" is longer than 63 bytes`}},
		{"reserved column", v2(task(`{"name": "order", "type": "integer"}`)), []string{`entity "Task": field "order": column "order" is a PostgreSQL reserved word`}},
		{"table of the platform", v2(entity("Team", title, `"table": "users"`)), []string{`entity "Team": table "users" is also the platform's users table`}},

		{"no such entity", v2(task(title), `{"from": "Task", "to": "Projekt", "type": "ManyToOne"}`),
			[]string{`relationship 1 (Task ManyToOne Projekt): no entity "Projekt"`}},
		{"relationship type", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "HasMany"}`),
			[]string{`relationship 1 (Task HasMany Project): type "HasMany" must be OneToMany, ManyToOne, OneToOne or ManyToMany`}},
		{"relationship without to", v2(task(title), `{"from": "Task", "type": "ManyToOne"}`), []string{`relationship 1 (Task ManyToOne ): "to" is required`}},
		{"to_name", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne", "to_name": "the project"}`),
			[]string{`relationship 1 (Task ManyToOne Project): to_name "the project" is not a name`}},
		{"join names on ManyToOne", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne", "joinTableName": "x"}`),
			[]string{`relationship 1 (Task ManyToOne Project): joinTableName, joinColumnName and inverseJoinColumnName apply to ManyToMany only`}},
		{"cascade on ManyToMany", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToMany", "cascadeDelete": true}`),
			[]string{`relationship 1 (Task ManyToMany Project): cascadeDelete does not apply to ManyToMany`}},
		{"two ManyToOne without to_name", v2(task(title)+","+project,
			`{"from": "Task", "to": "Project", "type": "ManyToOne"}`, `{"from": "Task", "to": "Project", "type": "ManyToOne", "nullable": true}`),
			[]string{`relationship 2 (Task ManyToOne Project): makes relation "project" of entity "Task", as relationship 1 (Task ManyToOne Project) does; give each a distinct "to_name"`}},
		{"relation named like a field", v2(task(`{"name": "project", "type": "text"}`)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne"}`),
			[]string{`entity "Task": field "project" and relation "project" (relationship 1 (Task ManyToOne Project)) have the same name "project"`}},
		{"foreign key named like a field", v2(task(`{"name": "projectId", "type": "integer"}`)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne"}`),
			[]string{`entity "Task": field "projectId" and foreign key "projectId" of relation "project" (relationship 1 (Task ManyToOne Project)) have the same name "projectId"`}},
		{"two relations of one name", v2(task(title)+","+project+","+entity("Team", title),
			`{"from": "Task", "to": "Project", "type": "ManyToOne", "to_name": "owner"}`, `{"from": "Task", "to": "Team", "type": "ManyToMany", "to_name": "owner"}`),
			[]string{`entity "Task": relation "owner" (relationship 1 (Task ManyToOne Project)) and relation "owner" (relationship 2 (Task ManyToMany Team)) have the same name "owner"`}},
		{"relation named version", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToMany", "to_name": "version"}`),
			[]string{`entity "Task": relation "version" (relationship 1 (Task ManyToMany Project)): the engine adds "version"`}},
		{"self ManyToMany columns", v2(entity("Person", title), `{"from": "Person", "to": "Person", "type": "ManyToMany", "to_name": "friends"}`),
			[]string{`relationship 1 (Person ManyToMany Person): both join columns are "person_id"; set joinColumnName and inverseJoinColumnName`}},
		{"join table twice", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToMany", "to_name": "a"}`, `{"from": "Task", "to": "Project", "type": "ManyToMany", "to_name": "b"}`),
			[]string{`relationship 2 (Task ManyToMany Project): join table "task_projects" is also join table of relationship 1 (Task ManyToMany Project)`}},
		{"join table names twice", v2(task(title)+","+project,
			`{"from": "Task", "to": "Project", "type": "ManyToMany", "bi_directional": true, "joinTableName": "a"}`,
			`{"from": "Project", "to": "Task", "type": "ManyToMany", "joinTableName": "b"}`),
			[]string{`relationship 1 (Task ManyToMany Project): relationship 2 (Project ManyToMany Task) names the join table too`}},
		{"join column", v2(task(title)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToMany", "joinColumnName": "Task"}`),
			[]string{`relationship 1 (Task ManyToMany Project): join table name or column "Task" is not a lower-case snake_case identifier`}},
		{"association to nothing", []byte(`{"entities": [` + task(title, `"associations": [{"name": "Projekt", "type": "ManyToOne"}]`) + `]}`),
			[]string{`entity "Task" association 1 (Projekt): no entity "Projekt"`}},

		{"auth0", []byte(`{"version": 2, "auth": {"provider": "auth0", "jwt": {}}, "entities": [` + task(title) + `]}`),
			[]string{`auth: provider "auth0" is not supported: scaleapi's auth is its own JWT + sessions platform`}},
		{"clerk", []byte(`{"version": 2, "auth": {"provider": "clerk"}, "entities": [` + task(title) + `]}`), []string{`auth: provider "clerk" is not supported`}},
		{"cognito", []byte(`{"version": 2, "auth": {"provider": "cognito"}, "entities": [` + task(title) + `]}`), []string{`auth: provider "cognito" is not supported`}},
		{"api-key", []byte(`{"version": 2, "auth": {"provider": "api-key"}, "entities": [` + task(title) + `]}`), []string{`auth: provider "api-key" is not supported`}},
		{"auth without provider", []byte(`{"version": 2, "auth": {}, "entities": [` + task(title) + `]}`), []string{`auth: "provider" is required`}},
		{"user field", v2(task(title) + "," + user(`{"name": "email", "type": "text"}, {"name": "fullName", "type": "text"}`)),
			[]string{`entity "User" field "fullName": the platform's users table has no such column; the entity may declare only name, email`}},
		{"user field type", v2(task(title) + "," + user(`{"name": "name", "type": "integer"}`)),
			[]string{`entity "User" field "name": must be text, as the platform's users.name is`}},
		{"organization field", v2(task(title) + "," + entity("Organization", `{"name": "plan", "type": "text"}`)),
			[]string{`entity "Organization" field "plan": the platform's organizations table has no such column; the entity may declare only name`}},
		{"serial user", v2(task(title) + "," + user(`{"name": "name", "type": "text"}`, `"primaryKeyType": "serial"`)),
			[]string{`entity "User": primaryKeyType "serial": the platform's users table is UUID-keyed`}},
		{"user table", v2(task(title) + "," + user(`{"name": "name", "type": "text"}`, `"table": "people"`)),
			[]string{`entity "User": table "people": it is the platform's users table`}},
		{"user scopeBy", v2(task(title) + "," + user(`{"name": "name", "type": "text"}`, `"scopeBy": "organizationId"`)),
			[]string{`entity "User": "scopeBy" has no effect on a platform entity`}},
		{"membership role", v2(task(title)+","+entity("Organization", "")+","+entity("AccountUser", `{"name": "role", "type": "enum", "values": ["member", "superuser"]}`),
			`{"from": "Organization", "to": "AccountUser", "type": "OneToMany"}`),
			[]string{`entity "AccountUser" field "role": must be an enum of owner, admin and member (or fewer)`}},
		{"membership field", v2(task(title)+","+entity("Organization", "")+","+entity("AccountUser", `{"name": "joinedOn", "type": "date"}`),
			`{"from": "Organization", "to": "AccountUser", "type": "OneToMany"}`),
			[]string{`entity "AccountUser" field "joinedOn": the platform's memberships table has no such column; the entity may declare only role`}},
		{"account user without organization", v2(task(title) + "," + entity("AccountUser", "")),
			[]string{`entity "AccountUser": it is the account-user entity, so it needs a ManyToOne relation whose foreign key is "organizationId"`}},
		{"foreign key in users", v2(task(title)+","+user("")+","+entity("Team", title), `{"from": "User", "to": "Team", "type": "ManyToOne"}`),
			[]string{`entity "User": relation "team" (relationship 1 (User ManyToOne Team)): its foreign key "teamId" would be a column of the platform's users table`}},
		{"reference to memberships", v2(task(title)+","+entity("Organization", "")+","+entity("AccountUser", ""),
			`{"from": "Organization", "to": "AccountUser", "type": "OneToMany"}`, `{"from": "Task", "to": "AccountUser", "type": "ManyToOne"}`),
			[]string{`entity "Task": relation "accountUser" (relationship 2 (Task ManyToOne AccountUser)): the platform's memberships table has no id to reference`}},

		{"scope elsewhere", v2(task(`{"name": "serviceId", "type": "integer"}`, `"scopeBy": "serviceId"`) + "," + entity("Organization", "")),
			[]string{`entity "Task": scopeBy "serviceId" does not lead to Organization; scaleapi scopes by the organization`}},
		{"scope to another entity", v2(task(title, `"scopeBy": "projectId"`)+","+project+","+entity("Organization", ""), `{"from": "Task", "to": "Project", "type": "ManyToOne"}`),
			[]string{`entity "Task": scopeBy "projectId" does not lead to Organization; scaleapi scopes by the organization`}},
		{"scope without field", v2(task(title, `"scopeBy": "workspaceId"`)), []string{`entity "Task": scopeBy "workspaceId" does not lead to the organization: entity "Task" has no field "workspaceId"`}},
		{"scope path", v2(task(title, `"scopeBy": "project.organizationId"`)), []string{`entity "Task": scopeBy "project.organizationId" does not lead to the organization: entity "Task" has no ManyToOne relation "project"`}},
		{"scope list", v2(task(title, `"scopeBy": ["organizationId", "serviceId"]`)), []string{`entity "Task": scopeBy "serviceId" does not lead to the organization`}},
		{"nullable scope", v2(task(title, `"scopeBy": "project.organizationId"`)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne", "nullable": true}`),
			[]string{`entity "Task": scopeBy "project.organizationId" may be null`}},
		{"organizationId that is not the organization", v2(task(`{"name": "organizationId", "type": "integer"}`)),
			[]string{`entity "Task": field "organizationId" does not lead to the organization; scaleapi scopes by the organization: an entity without scopeBy is scoped by its organizationId`}},
		{"implicit relation name taken", v2(task(title)+","+entity("Organization", "")+","+project, `{"from": "Task", "to": "Project", "type": "ManyToMany", "to_name": "organization"}`),
			[]string{`entity "Task": relation "organization" (relationship 1 (Task ManyToMany Project)) and relation "organization" (implicit: the organization scope) have the same name "organization"`}},
		{"enforceOn", v2(task(title, `"scopeOptions": {"enforceOn": ["find", "get"]}`)),
			[]string{`entity "Task" scopeOptions: enforceOn must list find, get, create, update and delete: scaleapi enforces the scope on every operation`}},
		{"enforceOn operation", v2(task(title, `"scopeOptions": {"enforceOn": ["find", "get", "create", "update", "delete", "list"]}`)),
			[]string{`entity "Task" scopeOptions: enforceOn: unknown operation "list"`}},
		{"bypassRoles", v2(task(title, `"scopeOptions": {"bypassRoles": ["system_admin"]}`)),
			[]string{`entity "Task" scopeOptions: bypassRoles: scaleapi has no cross-tenant role`}},

		{"cacheTTL", v2(task(title, `"scaleapi": {"cacheTTL": -1}`)), []string{`entity "Task" scaleapi: "cacheTTL" must be an integer from 0 to 31536000`}},
		{"listCacheTTL", v2(task(title, `"scaleapi": {"listCacheTTL": "60"}`)), []string{`entity "Task" scaleapi: "listCacheTTL" must be an integer`}},
		{"softDelete", v2(task(title, `"scaleapi": {"softDelete": "no"}`)), []string{`entity "Task" scaleapi: "softDelete" must be true or false`}},
		{"reads", v2(task(title, `"scaleapi": {"reads": "secondary"}`)), []string{`entity "Task" scaleapi: reads "secondary" must be "primary" or "replica"`}},
		{"deleteRole", v2(task(title, `"scaleapi": {"deleteRole": "root"}`)), []string{`entity "Task" scaleapi: deleteRole "root" must be "member", "admin" or "owner"`}},

		{"index field", v2(task(title, `"indexes": [{"fields": ["titel"]}]`)), []string{`entity "Task" index 1: unknown field "titel"`}},
		{"index field twice", v2(task(title, `"indexes": [{"fields": ["title", "title"]}]`)), []string{`entity "Task" index 1: field "title" appears twice`}},
		{"index without fields", v2(task(title, `"indexes": [{"fields": []}]`)), []string{`entity "Task" index 1: "fields" must name at least one field`}},
		{"index on createdAt without it", v2(task(title, `"indexes": [{"fields": ["createdAt"]}]`)), []string{`entity "Task" index 1: unknown field "createdAt"`}},
		{"unique field", v2(task(title, `"uniques": [{"name": "uq", "fields": ["name"]}]`)), []string{`entity "Task" unique 1: unknown field "name"`}},
		{"unique name", v2(task(title, `"uniques": [{"name": "UQ_title", "fields": ["title"]}]`)), []string{`entity "Task": index or unique "UQ_title" is not a lower-case snake_case identifier`}},
		{"index named like a table", v2(task(`{"name": "title", "type": "text", "unique": true}`) + "," + entity("Note", title, `"table": "tasks_title_key"`)),
			[]string{`entity "Note": table "tasks_title_key" is also index of entity "Task"`}},
	} {
		ps := problemsOf(t, c.file)
		for _, w := range c.want {
			if !slices.ContainsFunc(ps, func(p string) bool { return strings.Contains(p, w) }) {
				t.Errorf("%s: no problem contains\n\t%s\nproblems:\n\t%s", c.name, w, strings.Join(ps, "\n\t"))
			}
		}
	}
}

func TestAllProblemsCollected(t *testing.T) {
	file := v2(task(`{"name": "priority", "type": "enum"}, {"name": "location", "type": "point"}`, `"colour": "red"`))
	_, err := Parse(file)
	var e *Error
	if !errors.As(err, &e) || e.File != ".apsorc" {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`entity "Task": unknown key "colour"`,
		`entity "Task" field "priority": enum needs values`,
		`entity "Task" field "location": type "point" is not supported (PostGIS types need the PostGIS extension, which scaleapi does not install)`,
	}
	if !slices.Equal(e.Problems, want) {
		t.Errorf("problems:\n\t%s\nwant:\n\t%s", strings.Join(e.Problems, "\n\t"), strings.Join(want, "\n\t"))
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || lines[1] != `.apsorc: entity "Task" field "priority": enum needs values` {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".apsorc")
	if err := os.WriteFile(path, v2(task(`{"name": "priority", "type": "enum"}`)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || err.Error() != path+`: entity "Task" field "priority": enum needs values` {
		t.Errorf("Load = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

func TestEntityKeys(t *testing.T) {
	s := mustParse(t, []byte(`{"version": 2, "http": false, "rootFolder": "src", "apiType": "Rest", "language": "typescript", "coAuthor": false,
		"entities": [`+task(title, `"created_at": true`, `"http": true`)+`,`+project+`,`+entity("Note", title, `"primaryKeyType": "serial"`, `"updated_at": true`)+`]}`))
	tk, p, n := mustEntity(t, s, "Task"), mustEntity(t, s, "Project"), mustEntity(t, s, "Note")
	if tk.Key != UUIDKey || !tk.CreatedAt || tk.UpdatedAt || !tk.HTTP {
		t.Errorf("Task: %+v", tk)
	}
	if p.Key != UUIDKey || p.CreatedAt || p.UpdatedAt || p.HTTP {
		t.Errorf("Project (top-level http false, no flags): %+v", p)
	}
	if n.Key != SerialKey || !n.UpdatedAt {
		t.Errorf("Note: %+v", n)
	}
	if s.Version != 2 || len(s.Entities) != 3 || s.Entities[1] != p {
		t.Errorf("schema: version %d, entities %v", s.Version, s.Entities)
	}
	if s := mustParse(t, []byte(`{"entities": [`+task(title)+`]}`)); s.Version != 1 || !mustEntity(t, s, "Task").HTTP {
		t.Error("a file without version is version 1, and http defaults to true")
	}
}

func TestOptions(t *testing.T) {
	s := mustParse(t, v2(task(title)+","+entity("Note", title, `"scaleapi": {"cacheTTL": 0, "listCacheTTL": 5, "softDelete": false, "reads": "replica", "deleteRole": "owner"}`)))
	def := Options{CacheTTL: 300 * time.Second, ListCacheTTL: 60 * time.Second, SoftDelete: true, Reads: ReadPrimary, DeleteRole: "member"}
	if got := mustEntity(t, s, "Task").Options; got != def {
		t.Errorf("defaults = %+v, want %+v", got, def)
	}
	want := Options{CacheTTL: 0, ListCacheTTL: 5 * time.Second, SoftDelete: false, Reads: ReadReplica, DeleteRole: "owner"}
	if got := mustEntity(t, s, "Note").Options; got != want {
		t.Errorf("block = %+v, want %+v", got, want)
	}
}

func TestOneToMany(t *testing.T) {
	s := mustParse(t, v2(task(title)+","+project,
		`{"from": "Project", "to": "Task", "type": "OneToMany", "to_name": "item", "nullable": true, "cascadeDelete": true}`))
	p, tk := mustEntity(t, s, "Project"), mustEntity(t, s, "Task")
	items, proj := mustRelation(t, p, "items"), mustRelation(t, tk, "project")
	fk := mustField(t, tk, "projectId")
	switch {
	case items.Kind != OneToMany || items.Target != tk || items.Inverse != proj || items.Field != nil:
		t.Errorf("items: %+v", items)
	case proj.Kind != ManyToOne || proj.Target != p || proj.Inverse != items || proj.Field != fk || !proj.Nullable || !proj.CascadeDelete:
		t.Errorf("project: %+v", proj)
	case fk.Column != "project_id" || fk.Type != UUID || !fk.Nullable || fk.Relation != proj:
		t.Errorf("projectId: %+v", fk)
	}
}

func TestManyToOne(t *testing.T) {
	s := mustParse(t, v2(task(title)+","+project+","+entity("Category", title)+","+entity("Team", title, `"primaryKeyType": "serial"`),
		`{"from": "Task", "to": "Project", "type": "ManyToOne", "index": true}`,
		`{"from": "Task", "to": "Team", "type": "ManyToOne", "to_name": "owner", "bi_directional": false}`,
		`{"from": "Category", "to": "Category", "type": "ManyToOne", "to_name": "parent", "nullable": true}`))
	tk, p, team, cat := mustEntity(t, s, "Task"), mustEntity(t, s, "Project"), mustEntity(t, s, "Team"), mustEntity(t, s, "Category")
	proj, tasks := mustRelation(t, tk, "project"), mustRelation(t, p, "tasks")
	if proj.Inverse != tasks || tasks.Inverse != proj || tasks.Kind != OneToMany || proj.Field.Name != "projectId" {
		t.Errorf("bidirectional by default: project %+v, tasks %+v", proj, tasks)
	}
	owner := mustRelation(t, tk, "owner")
	if owner.Inverse != nil || len(team.Relations) != 0 || owner.Field.Column != "owner_id" || owner.Field.Type != BigInt {
		t.Errorf("bi_directional false: owner %+v (field %+v), Team relations %d", owner, owner.Field, len(team.Relations))
	}
	parent := mustRelation(t, cat, "parent")
	if parent.Inverse != nil || parent.Target != cat || len(cat.Relations) != 1 {
		t.Errorf("self-reference: %+v, relations %d", parent, len(cat.Relations))
	}
	if !slices.ContainsFunc(tk.Indexes, func(x Index) bool { return x.Name == "tasks_project_id_idx" }) {
		t.Errorf("index: true: %v", tk.Indexes)
	}
}

// TestManyToOnePairs is APSO's networkStack/databaseStack: two ManyToOne to one entity with
// distinct to_name. The first keeps the default collection, the second has no inverse.
func TestManyToOnePairs(t *testing.T) {
	s := mustParse(t, v2(entity("Service", title)+","+entity("Stack", title),
		`{"from": "Service", "to": "Stack", "type": "ManyToOne", "to_name": "networkStack", "nullable": true}`,
		`{"from": "Service", "to": "Stack", "type": "ManyToOne", "to_name": "databaseStack", "nullable": true}`))
	svc, stack := mustEntity(t, s, "Service"), mustEntity(t, s, "Stack")
	net, db, services := mustRelation(t, svc, "networkStack"), mustRelation(t, svc, "databaseStack"), mustRelation(t, stack, "services")
	if net.Inverse != services || services.Inverse != net || db.Inverse != nil {
		t.Errorf("networkStack %+v, databaseStack %+v, services %+v", net, db, services)
	}
	if mustField(t, svc, "networkStackId").Column != "network_stack_id" || mustField(t, svc, "databaseStackId").Column != "database_stack_id" {
		t.Error("foreign key columns")
	}
	// A collection the file names wins over a default one.
	s = mustParse(t, v2(entity("Service", title)+","+entity("Stack", title),
		`{"from": "Service", "to": "Stack", "type": "ManyToOne", "to_name": "networkStack"}`,
		`{"from": "Stack", "to": "Service", "type": "OneToMany"}`))
	svc, stack = mustEntity(t, s, "Service"), mustEntity(t, s, "Stack")
	services, stackRel := mustRelation(t, stack, "services"), mustRelation(t, svc, "stack")
	if services.Inverse != stackRel || mustRelation(t, svc, "networkStack").Inverse != nil {
		t.Errorf("named collection: services %+v", services)
	}
}

// TestDeclaredBack is APSO's own style: a OneToMany and the ManyToOne back are one
// relationship.
func TestDeclaredBack(t *testing.T) {
	s := mustParse(t, v2(task(title)+","+project,
		`{"from": "Project", "to": "Task", "type": "OneToMany", "to_name": "todos"}`,
		`{"from": "Task", "to": "Project", "type": "ManyToOne", "nullable": true, "cascadeDelete": true}`))
	p, tk := mustEntity(t, s, "Project"), mustEntity(t, s, "Task")
	todos, proj := mustRelation(t, p, "todos"), mustRelation(t, tk, "project")
	if len(p.Relations) != 1 || todos.Inverse != proj || proj.Inverse != todos || !proj.Nullable || !proj.CascadeDelete {
		t.Errorf("Project relations %d, todos %+v, project %+v", len(p.Relations), todos, proj)
	}
	if n := len(slices.DeleteFunc(slices.Clone(tk.Fields), func(f *Field) bool { return f.Relation == nil || f.Implicit })); n != 1 {
		t.Errorf("Task has %d foreign keys to Project", n)
	}
}

func TestOneToOne(t *testing.T) {
	s := mustParse(t, v2(entity("Baker", title)+","+entity("Oven", title)+","+entity("Van", title)+","+entity("Badge", title),
		`{"from": "Baker", "to": "Oven", "type": "OneToOne", "to_name": "station", "bi_directional": true}`,
		`{"from": "Baker", "to": "Van", "type": "OneToOne", "nullable": true}`,
		`{"from": "Baker", "to": "Badge", "type": "OneToOne"}`,
		`{"from": "Badge", "to": "Baker", "type": "OneToOne", "to_name": "holder", "bi_directional": true}`))
	baker, oven, van, badge := mustEntity(t, s, "Baker"), mustEntity(t, s, "Oven"), mustEntity(t, s, "Van"), mustEntity(t, s, "Badge")
	station, bakerRel := mustRelation(t, baker, "station"), mustRelation(t, oven, "baker")
	if station.Kind != OneToOne || station.Field == nil || !station.Field.Unique || bakerRel.Field != nil || bakerRel.Inverse != station || station.Inverse != bakerRel {
		t.Errorf("bidirectional: station %+v, baker %+v", station, bakerRel)
	}
	if r := mustRelation(t, baker, "van"); r.Inverse != nil || !r.Field.Nullable || len(van.Relations) != 0 {
		t.Errorf("unidirectional: %+v", r)
	}
	if !slices.ContainsFunc(baker.Uniques, func(x Index) bool { return x.Name == "bakers_station_id_key" }) {
		t.Errorf("unique foreign key: %v", baker.Uniques)
	}
	// Declared from both sides: the first owns the foreign key, the second names the inverse.
	own, holder := mustRelation(t, baker, "badge"), mustRelation(t, badge, "holder")
	if own.Field == nil || holder.Field != nil || own.Inverse != holder {
		t.Errorf("pair: badge %+v, holder %+v", own, holder)
	}
	if _, ok := badge.Field("holderId"); ok {
		t.Error("the inverse declaration made a second foreign key")
	}
}

func TestManyToMany(t *testing.T) {
	s := mustParse(t, v2(entity("Recipe", title)+","+entity("Ingredient", title, `"primaryKeyType": "serial"`)+","+entity("Tag", title)+","+
		entity("Baker", title)+","+entity("Person", title),
		`{"from": "Recipe", "to": "Ingredient", "type": "ManyToMany", "bi_directional": true}`,
		`{"from": "Recipe", "to": "Tag", "type": "ManyToMany", "to_name": "labels"}`,
		`{"from": "Baker", "to": "Recipe", "type": "ManyToMany", "to_name": "specialities"}`,
		`{"from": "Recipe", "to": "Baker", "type": "ManyToMany", "to_name": "masters", "bi_directional": true,
		  "joinTableName": "baker_specialities", "joinColumnName": "recipe", "inverseJoinColumnName": "baker"}`,
		`{"from": "Person", "to": "Person", "type": "ManyToMany", "to_name": "friends", "joinColumnName": "person_id", "inverseJoinColumnName": "friend_id"}`))
	r, ing, tag, baker, person := mustEntity(t, s, "Recipe"), mustEntity(t, s, "Ingredient"), mustEntity(t, s, "Tag"), mustEntity(t, s, "Baker"), mustEntity(t, s, "Person")
	ings, recipes := mustRelation(t, r, "ingredients"), mustRelation(t, ing, "recipes")
	if ings.Kind != ManyToMany || ings.JoinTable != "recipe_ingredients" || ings.JoinColumn != "recipe_id" || ings.InverseJoinColumn != "ingredient_id" ||
		recipes.JoinTable != "recipe_ingredients" || recipes.JoinColumn != "ingredient_id" || recipes.InverseJoinColumn != "recipe_id" ||
		ings.Inverse != recipes || recipes.Inverse != ings {
		t.Errorf("bidirectional: %+v / %+v", ings, recipes)
	}
	if labels := mustRelation(t, r, "labels"); labels.Inverse != nil || labels.JoinTable != "recipe_tags" || len(tag.Relations) != 0 {
		t.Errorf("unidirectional: %+v", labels)
	}
	// Declared from both sides, the second naming the join table: it owns it, one table.
	masters, specs := mustRelation(t, r, "masters"), mustRelation(t, baker, "specialities")
	if masters.JoinTable != "baker_specialities" || masters.JoinColumn != "recipe" || masters.InverseJoinColumn != "baker" ||
		specs.JoinColumn != "baker" || masters.Inverse != specs {
		t.Errorf("pair: masters %+v, specialities %+v", masters, specs)
	}
	if friends := mustRelation(t, person, "friends"); friends.JoinTable != "person_people" || friends.Target != person {
		t.Errorf("self-reference: %+v", friends)
	}
	_, joins := s.tables()
	if len(joins) != 4 {
		t.Errorf("%d join tables, want 4", len(joins))
	}
}

func TestV1(t *testing.T) {
	s, err := Load("testdata/m2m-bidirectional.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	baker, shift, sup := mustEntity(t, s, "Baker"), mustEntity(t, s, "Shift"), mustEntity(t, s, "Supplier")
	if shifts, bakers := mustRelation(t, baker, "shifts"), mustRelation(t, shift, "bakers"); shifts.Inverse != bakers || shifts.JoinTable != "baker_shifts" {
		t.Errorf("join_table side owns: shifts %+v, bakers %+v", shifts, bakers)
	}
	if fav, reg := mustRelation(t, baker, "favouriteSuppliers"), mustRelation(t, sup, "regulars"); fav.Inverse != reg || fav.JoinTable != "baker_suppliers" {
		t.Errorf("no join_table on either side: favouriteSuppliers %+v, regulars %+v", fav, reg)
	}
	if _, joins := s.tables(); len(joins) != 2 {
		t.Errorf("%d join tables, want 2", len(joins))
	}
	s, err = Load("testdata/m2m-unidirectional.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	baker, shift = mustEntity(t, s, "Baker"), mustEntity(t, s, "Shift")
	shifts, bakers := mustRelation(t, baker, "shifts"), mustRelation(t, shift, "bakers")
	if shifts.Inverse != nil || bakers.Inverse != nil || shifts.JoinTable != "baker_shifts" || bakers.JoinTable != "shift_bakers" {
		t.Errorf("join_table on both sides: two unidirectional relations: %+v, %+v", shifts, bakers)
	}
	// A ManyToOne without an inverse is unidirectional in version 1.
	s = mustParse(t, []byte(`{"entities": [`+task(title, `"associations": [{"name": "Project", "type": "ManyToOne", "reference_name": "owner"}]`)+`,`+project+`]}`))
	if r := mustRelation(t, mustEntity(t, s, "Task"), "owner"); r.Inverse != nil || len(mustEntity(t, s, "Project").Relations) != 0 {
		t.Errorf("owner: %+v", r)
	}
}

// TestV1V2 loads a version 1 file and its version 2 translation: they are the same schema.
func TestV1V2(t *testing.T) {
	s1, err := Load("testdata/library.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Load("testdata/library.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := s1.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s2.Snapshot()
	if string(a) != string(b) {
		t.Errorf("snapshots differ:\nv1: %s\nv2: %s", a, b)
	}
	if !slices.Equal(s1.CreateSQL(), s2.CreateSQL()) {
		t.Error("CreateSQL differs")
	}
	for _, e1 := range s1.Entities {
		e2 := mustEntity(t, s2, e1.Name)
		if len(e1.Relations) != len(e2.Relations) {
			t.Errorf("%s: %d relations in v1, %d in v2", e1.Name, len(e1.Relations), len(e2.Relations))
			continue
		}
		for i, r := range e1.Relations {
			o := e2.Relations[i]
			if r.Name != o.Name || r.Kind != o.Kind || r.Target.Name != o.Target.Name || (r.Inverse == nil) != (o.Inverse == nil) {
				t.Errorf("%s relation %d: %s/%d in v1, %s/%d in v2", e1.Name, i, r.Name, r.Kind, o.Name, o.Kind)
			}
		}
	}
}

func TestTestdata(t *testing.T) {
	s, err := Load("testdata/bakery.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	org, order, line := mustEntity(t, s, "Organization"), mustEntity(t, s, "Order"), mustEntity(t, s, "OrderLine")
	if org.Platform != Organizations || s.Auth.OrganizationEntity != "Organization" || org.Scope.Field != nil {
		t.Errorf("Organization: %+v", org)
	}
	if order.Table != "orders" || order.Options.SoftDelete || order.Options.Reads != ReadReplica || order.Options.CacheTTL != 120*time.Second {
		t.Errorf("Order: %+v", order)
	}
	if line.Scope.Direct() || line.Scope.Path[0] != mustRelation(t, line, "order") || line.Scope.Field != mustField(t, order, "organizationId") ||
		line.Scope.InjectOnCreate {
		t.Errorf("OrderLine scope: %+v", line.Scope)
	}
	if r := mustRelation(t, mustEntity(t, s, "Recipe"), "baseRecipe"); r.Inverse != nil || r.Target.Name != "Recipe" {
		t.Errorf("self-reference: %+v", r)
	}
	if f := mustField(t, mustEntity(t, s, "Ingredient"), "unitPrice"); f.Precision != 10 || f.Scale != 2 || f.Default != json.Number("0.00") {
		t.Errorf("unitPrice: %+v", f)
	}
	s, err = Load("testdata/decimals.v2.json")
	if err != nil {
		t.Fatal(err)
	}
	w := mustEntity(t, s, "WaterUsage")
	if w.Table != "water_usages" || mustField(t, w, "cubic_metres").Default != json.Number("0") || mustField(t, w, "meterFactor").Precision != 0 {
		t.Errorf("WaterUsage: %+v", w)
	}
	ps := problemsOf(t, mustRead(t, "testdata/postgis.v2.json"))
	for i, f := range []string{`"location": type "point"`, `"deliveryArea": type "polygon"`, `"vanRoute": type "linestring"`, `"footprint": type "geometry"`} {
		if i >= len(ps) || !strings.Contains(ps[i], `entity "Store" field `+f+` is not supported (PostGIS types need the PostGIS extension`) {
			t.Errorf("postgis problem %d: %q", i, ps)
		}
	}
	if len(ps) != 4 {
		t.Errorf("postgis: %d problems, want 4: %q", len(ps), ps)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEngineColumnSpelling: a field that is another spelling of an engine column (APSO's
// examples declare a text "ID") keeps its name and gets a column of its own.
func TestEngineColumnSpelling(t *testing.T) {
	s := mustParse(t, v2(task(`{"name": "ID", "type": "text"}, {"name": "deleted_at", "type": "timestamptz"}`)))
	tk := mustEntity(t, s, "Task")
	if f := mustField(t, tk, "ID"); f.Column != "id_value" {
		t.Errorf("ID: column %q", f.Column)
	}
	if f := mustField(t, tk, "deleted_at"); f.Column != "deleted_at_value" {
		t.Errorf("deleted_at: column %q", f.Column)
	}
}

func TestAuth(t *testing.T) {
	s := mustParse(t, v2(task(title)))
	want := Auth{Provider: "custom-db-session", OrganizationField: "organizationId", RoleField: "role"}
	if s.Auth != want {
		t.Errorf("auth block, no platform entities: %+v", s.Auth)
	}
	// Without an auth block, a User is the schema's own, in a table of its own.
	s = mustParse(t, []byte(`{"version": 2, "entities": [`+entity("User", `{"name": "cognito_id", "type": "text"}`)+`], "relationships": []}`))
	if u := mustEntity(t, s, "User"); u.Platform != NotPlatform || u.Table != "app_users" || u.Path != "users" ||
		s.Auth != (Auth{OrganizationField: "organizationId", RoleField: "role"}) {
		t.Errorf("no auth block: User %+v, auth %+v", u, s.Auth)
	}
	s, err := Load("testdata/library.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	want = Auth{Provider: "custom-db-session", UserEntity: "User", AccountUserEntity: "AccountUser", OrganizationEntity: "Organization",
		OrganizationField: "organizationId", RoleField: "role"}
	if s.Auth != want {
		t.Errorf("defaults: %+v", s.Auth)
	}
	user, au, book := mustEntity(t, s, "User"), mustEntity(t, s, "AccountUser"), mustEntity(t, s, "Book")
	if user.Platform != Users || user.Table != "users" || au.Platform != Memberships || au.Table != "memberships" {
		t.Errorf("User %+v, AccountUser %+v", user, au)
	}
	if curator := mustRelation(t, book, "curator"); curator.Target != user || curator.Field.Column != "curator_id" || curator.Field.Type != UUID {
		t.Errorf("curator: %+v", curator)
	}
	if mustField(t, au, "organizationId").Column != "organization_id" || mustField(t, au, "userId").Column != "user_id" ||
		mustField(t, au, "role").Column != "role" {
		t.Errorf("membership columns: %v", au.Fields)
	}

	s = mustParse(t, []byte(`{"version": 2, "auth": {"provider": "better-auth", "userEntity": "Member", "accountUserEntity": "Seat",
		"organizationField": "workspaceId", "roleField": "level", "sessionEntity": "session", "cookiePrefix": "app"},
		"entities": [`+task(title)+`,`+entity("Member", `{"name": "email", "type": "text"}`)+`,`+entity("Workspace", `{"name": "name", "type": "text"}`)+`,`+
		entity("Seat", `{"name": "level", "type": "enum", "values": ["admin", "member"]}`)+`],
		"relationships": [{"from": "Seat", "to": "Workspace", "type": "ManyToOne"}, {"from": "Seat", "to": "Member", "type": "ManyToOne", "to_name": "holder"},
		{"from": "Task", "to": "Member", "type": "ManyToOne", "to_name": "assignee", "nullable": true}]}`))
	want = Auth{Provider: "better-auth", UserEntity: "Member", AccountUserEntity: "Seat", OrganizationEntity: "Workspace",
		OrganizationField: "workspaceId", RoleField: "level"}
	if s.Auth != want {
		t.Errorf("custom: %+v", s.Auth)
	}
	ws, seat, tk := mustEntity(t, s, "Workspace"), mustEntity(t, s, "Seat"), mustEntity(t, s, "Task")
	if ws.Platform != Organizations || ws.Table != "organizations" || len(ws.Relations) != 1 {
		t.Errorf("Workspace: %+v", ws)
	}
	if mustField(t, seat, "workspaceId").Column != "organization_id" || mustField(t, seat, "holderId").Column != "user_id" || mustField(t, seat, "level").Column != "role" {
		t.Errorf("Seat columns: %v", seat.Fields)
	}
	if r := mustRelation(t, tk, "organization"); r.Target != ws || !tk.Scope.Field.Implicit {
		t.Errorf("implicit organization relation targets the organization entity: %+v", r)
	}
	if r := mustRelation(t, tk, "assignee"); r.Field.Column != "assignee_id" || r.Target.Table != "users" {
		t.Errorf("assignee: %+v", r)
	}
}

func TestScope(t *testing.T) {
	org := entity("Organization", "")
	s := mustParse(t, v2(task(title)+","+project+","+org+","+entity("Note", title, `"scopeBy": ["task.project.organizationId", "projectId.organizationId"]`)+","+
		entity("Comment", title, `"scopeBy": "organizationId"`)+","+entity("Label", title, `"scopeBy": "organizationId"`, `"scopeOptions": {"injectOnCreate": false}`),
		`{"from": "Task", "to": "Project", "type": "ManyToOne"}`, `{"from": "Note", "to": "Task", "type": "ManyToOne"}`,
		`{"from": "Note", "to": "Project", "type": "ManyToOne"}`, `{"from": "Organization", "to": "Comment", "type": "OneToMany"}`))
	tk, p, o, note, comment, label := mustEntity(t, s, "Task"), mustEntity(t, s, "Project"), mustEntity(t, s, "Organization"),
		mustEntity(t, s, "Note"), mustEntity(t, s, "Comment"), mustEntity(t, s, "Label")
	implicit := mustField(t, p, "organizationId")
	if !implicit.Implicit || implicit.Column != "organization_id" || implicit.Type != UUID || implicit.Nullable || implicit.Relation == nil ||
		implicit.Relation.Target != o || implicit.Relation.Name != "organization" || p.Scope.Field != implicit || !p.Scope.Direct() || !p.Scope.InjectOnCreate {
		t.Errorf("implicit: %+v / %+v", implicit, p.Scope)
	}
	if tk.Scope.Field != mustField(t, tk, "organizationId") {
		t.Error("Task: implicit scope")
	}
	if o.Scope.Field != nil || o.Scope.Path != nil {
		t.Errorf("the organization has no scope: %+v", o.Scope)
	}
	if sc := note.Scope; len(sc.Path) != 1 || sc.Path[0] != mustRelation(t, note, "project") || sc.Field != implicit {
		t.Errorf("the shortest path, by foreign key name: %+v", sc)
	}
	if _, ok := note.Field("organizationId"); ok {
		t.Error("an entity scoped by a path got an organizationId")
	}
	if f := mustField(t, comment, "organizationId"); f.Implicit || comment.Scope.Field != f || f.Relation.Target != o {
		t.Errorf("declared foreign key: %+v", f)
	}
	if f := mustField(t, label, "organizationId"); !f.Implicit || label.Scope.InjectOnCreate {
		t.Errorf("scopeBy naming an undeclared organizationId: %+v, %+v", f, label.Scope)
	}
	// Without an organization entity the implicit field has no relation.
	if f := mustField(t, mustEntity(t, mustParse(t, v2(task(title))), "Task"), "organizationId"); f.Relation != nil || !f.Implicit {
		t.Errorf("without Organization: %+v", f)
	}
}

func TestIndexes(t *testing.T) {
	s := mustParse(t, v2(task(`{"name": "title", "type": "text", "unique": true, "index": true}, {"name": "status", "type": "text", "index": true},
		{"name": "code", "type": "text"}`, `"created_at": true`,
		`"indexes": [{"fields": ["status", "createdAt"]}, {"fields": ["projectId", "code"], "unique": true}, {"fields": ["status"]}]`,
		`"uniques": [{"name": "tasks_code_per_project", "fields": ["code", "projectId"]}, {"fields": ["title"]}]`)+","+project,
		`{"from": "Task", "to": "Project", "type": "ManyToOne"}`, `{"from": "Task", "to": "Project", "type": "ManyToOne", "to_name": "origin", "index": true}`))
	tk := mustEntity(t, s, "Task")
	names := func(xs []Index) []string {
		var out []string
		for _, x := range xs {
			out = append(out, x.Name+"("+strings.Join(x.Columns, ",")+")")
		}
		return out
	}
	wantIdx := []string{"tasks_status_created_at_idx(status,created_at)", "tasks_status_idx(status)", "tasks_origin_id_idx(origin_id)",
		"tasks_organization_id_id_idx(organization_id,id)"}
	wantUni := []string{"tasks_project_id_code_key(project_id,code)", "tasks_code_per_project(code,project_id)", "tasks_title_key(title)"}
	if got := names(tk.Indexes); !slices.Equal(got, wantIdx) {
		t.Errorf("indexes %v, want %v", got, wantIdx)
	}
	if got := names(tk.Uniques); !slices.Equal(got, wantUni) {
		t.Errorf("uniques %v, want %v", got, wantUni)
	}
	long := entity("A"+strings.Repeat("b", 50), `{"name": "`+strings.Repeat("c", 30)+`", "type": "text", "index": true}`)
	for _, x := range mustEntity(t, mustParse(t, v2(long)), "A"+strings.Repeat("b", 50)).Indexes {
		if len(x.Name) > maxIdent {
			t.Errorf("index name %q is longer than 63 bytes", x.Name)
		}
	}
}

// FuzzParse: no input makes Parse panic, and a schema it accepts has DDL.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"library.v1.json", "library.v2.json", "bakery.v2.json", "decimals.v2.json", "m2m-bidirectional.v1.json", "postgis.v2.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(v2(task(title, `"scopeBy": "project.organizationId"`)+","+project, `{"from": "Task", "to": "Project", "type": "ManyToOne"}`))
	f.Add([]byte(`{"entities": [{"name": "A", "associations": [{"name": "A", "type": "OneToOne"}]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			return
		}
		if len(s.CreateSQL()) == 0 {
			t.Fatalf("accepted with no DDL: %s", data)
		}
		if _, err := s.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}
