package query

import (
	"strings"
	"testing"
)

// The schemas of the real resources, as the domain packages (project, task, organization) are
// expected to declare them over the tables of shared/migrations. The tests use them as the
// typical allow-list.
var (
	testOrganizations = NewSchema("organizations",
		Field{Name: "name", Column: "name", Type: Text},
		Field{Name: "createdAt", Column: "created_at", Type: Timestamptz},
		Field{Name: "updatedAt", Column: "updated_at", Type: Timestamptz},
	)
	testProjects = NewSchema("projects",
		Field{Name: "id", Column: "id", Type: UUID},
		Field{Name: "organizationId", Column: "organization_id", Type: UUID},
		Field{Name: "name", Column: "name", Type: Text},
		Field{Name: "description", Column: "description", Type: Text, Nullable: true},
		Field{Name: "status", Column: "status", Type: Enum, Values: []string{"planning", "active", "on_hold", "completed", "archived"}},
		Field{Name: "createdAt", Column: "created_at", Type: Timestamptz},
		Field{Name: "updatedAt", Column: "updated_at", Type: Timestamptz},
		Field{Name: "version", Column: "version", Type: Int},
	)
	testTasks = NewSchema("tasks",
		Field{Name: "projectId", Column: "project_id", Type: UUID},
		Field{Name: "organizationId", Column: "organization_id", Type: UUID},
		Field{Name: "title", Column: "title", Type: Text},
		Field{Name: "description", Column: "description", Type: Text, Nullable: true},
		Field{Name: "status", Column: "status", Type: Enum, Values: []string{"todo", "in_progress", "done"}},
		Field{Name: "priority", Column: "priority", Type: Enum, Values: []string{"low", "medium", "high", "urgent"}},
		Field{Name: "assigneeId", Column: "assignee_id", Type: UUID, Nullable: true},
		Field{Name: "dueDate", Column: "due_date", Type: Date, Nullable: true},
		Field{Name: "createdAt", Column: "created_at", Type: Timestamptz},
		Field{Name: "updatedAt", Column: "updated_at", Type: Timestamptz},
		Field{Name: "version", Column: "version", Type: Int},
	)
)

// testItems has a field of every type, nullable and not: the fuzz test's widest target.
var testItems = NewSchema("items",
	Field{Name: "name", Column: "name", Type: Text},
	Field{Name: "note", Column: "note", Type: Text, Nullable: true},
	Field{Name: "status", Column: "status", Type: Enum, Values: []string{"new", "open", "closed"}},
	Field{Name: "rank", Column: "rank", Type: Int, Nullable: true},
	Field{Name: "score", Column: "score", Type: Int},
	Field{Name: "due", Column: "due", Type: Date, Nullable: true},
	Field{Name: "createdAt", Column: "created_at", Type: Timestamptz},
	Field{Name: "doneAt", Column: "done_at", Type: Timestamptz, Nullable: true},
	Field{Name: "flag", Column: "flag", Type: Bool, Nullable: true},
	Field{Name: "ref", Column: "ref", Type: UUID, Nullable: true},
	Field{Name: "weight", Column: "weight", Type: Float, Nullable: true},
	Field{Name: "price", Column: "price", Type: Numeric},
	Field{Name: "attrs", Column: "attrs", Type: JSON, Nullable: true},
).
	Join(Relation{Name: "children", Many: true, Schema: testTasks, Local: "id", Foreign: "project_id"}).
	Join(Relation{Name: "owner", Schema: testOrganizations, Local: "ref", Foreign: "id"})

// testSerials is a resource of the schema-driven engine: a serial key, snake_case names (one
// named like a nestjsx parameter) and the types only such schemas have.
var testSerials = NewSchema("serials",
	Field{Name: "id", Column: "id", Type: Int},
	Field{Name: "cognito_id", Column: "cognito_id", Type: Text},
	Field{Name: "per_page", Column: "per_page", Type: Int, Nullable: true},
	Field{Name: "weight", Column: "weight", Type: Float, Nullable: true},
	Field{Name: "price", Column: "price", Type: Numeric},
	Field{Name: "attrs", Column: "attrs", Type: JSON, Nullable: true},
).
	Join(Relation{Name: "line_items", Many: true, Schema: testItems, Local: "id", Foreign: "serial_id"})

func init() {
	testProjects.
		Join(Relation{Name: "tasks", Many: true, Schema: testTasks, Local: "id", Foreign: "project_id", DeletedAt: "deleted_at"}).
		Join(Relation{Name: "organization", Schema: testOrganizations, Local: "organization_id", Foreign: "id", DeletedAt: "deleted_at"})
	testTasks.
		Join(Relation{Name: "project", Schema: testProjects, Local: "project_id", Foreign: "id", DeletedAt: "deleted_at"}).
		Join(Relation{Name: "organization", Schema: testOrganizations, Local: "organization_id", Foreign: "id", DeletedAt: "deleted_at"})
}

func TestNewSchemaPanicsOnProgrammingErrors(t *testing.T) {
	cases := map[string]func(){
		"ReservedColumn": func() { NewSchema("t", Field{Name: "order", Column: "order", Type: Int}) },
		"QuotedColumn":   func() { NewSchema("t", Field{Name: "x", Column: `x"; DROP`, Type: Int}) },
		"BadName":        func() { NewSchema("t", Field{Name: "x-y", Column: "x", Type: Int}) },
		"NoType":         func() { NewSchema("t", Field{Name: "x", Column: "x"}) },
		"EnumNoValues":   func() { NewSchema("t", Field{Name: "x", Column: "x", Type: Enum}) },
		"ValuesNotEnum":  func() { NewSchema("t", Field{Name: "x", Column: "x", Type: Text, Values: []string{"a"}}) },
		"Duplicate": func() {
			NewSchema("t", Field{Name: "x", Column: "x", Type: Int}, Field{Name: "x", Column: "y", Type: Int})
		},
		"NullableID":        func() { NewSchema("t", Field{Name: "id", Column: "id", Type: UUID, Nullable: true}) },
		"NullableIntID":     func() { NewSchema("t", Field{Name: "id", Column: "id", Type: Int, Nullable: true}) },
		"TextID":            func() { NewSchema("t", Field{Name: "id", Column: "id", Type: Text}) },
		"JSONID":            func() { NewSchema("t", Field{Name: "id", Column: "id", Type: JSON}) },
		"UnknownType":       func() { NewSchema("t", Field{Name: "x", Column: "x", Type: JSON + 1}) },
		"LeadingUnderscore": func() { NewSchema("t", Field{Name: "_x", Column: "x", Type: Int}) },
		"RelationBadName": func() {
			NewSchema("t").Join(Relation{Name: "r.s", Schema: NewSchema("u"), Local: "id", Foreign: "t_id"})
		},
		"BadTable":         func() { NewSchema("Table") },
		"RelationNoSchema": func() { NewSchema("t").Join(Relation{Name: "r", Local: "id", Foreign: "t_id"}) },
		"RelationClash": func() {
			NewSchema("t", Field{Name: "r", Column: "r", Type: Int}).Join(Relation{Name: "r", Schema: NewSchema("u"), Local: "id", Foreign: "t_id"})
		},
		"TooManyFields": func() {
			var fs []Field
			for i := range 50 {
				fs = append(fs, Field{Name: "f" + strings.Repeat("x", i), Column: "c" + strings.Repeat("x", i), Type: Int})
			}
			NewSchema("t", fs...)
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			f()
		})
	}
}

func TestNewSchemaAddsID(t *testing.T) {
	f, ok := testTasks.Field("id")
	if !ok || f.Type != UUID || f.Nullable || f.Column != "id" {
		t.Fatalf("id = %+v, %v", f, ok)
	}
	if testTasks.fields[0].Name != "id" {
		t.Fatalf("id is not the first field")
	}
	if f, _ := testSerials.Field("id"); f.Type != Int || testSerials.id.Type != Int || len(testSerials.fields) != 6 {
		t.Fatalf("a declared Int id = %+v; fields %d", f, len(testSerials.fields))
	}
}
