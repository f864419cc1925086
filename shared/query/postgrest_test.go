package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"scaleapi/shared/fault"
)

var countExact = []string{"Prefer", "count=exact"}

// projectScope is the scope the tests build statements under, as the projects store does.
var projectScope = Scope{Alias: "p", Where: "p.organization_id = ANY($1) AND p.deleted_at IS NULL", Args: []any{[]string{id1}}}

// TestPostgRESTIsNestjsx checks that a PostgREST query parses into the query its nestjsx
// spelling gives: the same statements, the same values, the same cache key.
func TestPostgRESTIsNestjsx(t *testing.T) {
	for _, c := range []struct{ nestjsx, postgrest string }{
		{"filter=status||$eq||active&sort=name,ASC&limit=5", "status=eq.active&order=name.asc&limit=5"},
		{"filter=name||$ne||x", "name=neq.x"},
		{"filter=name||$ne||x", "name=not.eq.x"},
		{"filter=version||$lte||3", "version=not.gt.3"},
		{"filter=version||$gte||3", "version=not.lt.3"},
		{"filter=version||$lt||3", "version=not.gte.3"},
		{"filter=version||$gt||3", "version=not.lte.3"},
		{"filter=status||$in||active,planning", "status=in.(active,planning)"},
		{"filter=status||$notin||archived,on_hold", "status=not.in.(archived,on_hold)"},
		{"filter=description||$isnull", "description=is.null"},
		{"filter=description||$notnull", "description=not.is.null"},
		{"filter=name||$contL||apo", "name=ilike.*apo*"},
		{"filter=name||$startsL||apo", "name=ilike.apo*"},
		{"filter=name||$ends||x", "name=like.*x"},
		{"filter=name||$excl||x", "name=not.like.*x*"},
		{"filter=name||$exclL||x", "name=not.ilike.*x*"},
		{"filter=createdAt||$gte||2024-01-02&filter=version||$gt||1", "version=gt.1&createdAt=gte.2024-01-02T00:00:00Z"},
		{"or=name||$eq||a&or=version||$gt||2", "or=(name.eq.a,version.gt.2)"},
		{`s={"$or":[{"version":{"$lt":2}},{"$and":[{"status":"active"},{"description":null}]}]}`, "or=(version.lt.2,and(status.eq.active,description.is.null))"},
		{`s={"$or":[{"status":{"$ne":"active"}},{"version":{"$lte":2}}]}`, "not.and=(status.eq.active,version.gt.2)"},
		{`s={"status":{"$ne":"active"},"version":{"$lte":2}}`, "not.or=(status.eq.active,version.gt.2)"},
		{`s={"name":{"$in":["a,b","c)"]}}`, `name=in.("a,b","c)")`},
		{`s={"$or":[{"name":"a,b"},{"name":"(x)"}]}`, `or=(name.eq."a,b",name.eq."(x)")`},
		{"fields=name&join=tasks||title", "select=id,name,tasks(id,title)"},
		{"join=tasks&join=organization", "select=*,tasks(*),organization(*)"},
		{"join=tasks&filter=tasks.status||$eq||done", "select=*,tasks!inner(*)&tasks.status=eq.done"},
		{"join=organization&filter=organization.name||$contL||acme", "select=*,organization!inner(*)&organization.name=ilike.*acme*"},
		{"join=tasks&or=tasks.status||$eq||done&or=name||$eq||x", "select=*,tasks!inner(*)&or=(tasks.status.eq.done,name.eq.x)"},
		{"fields=name&join=tasks||title&join=tasks.project||name&join=tasks.project.organization", "select=id,name,tasks(id,title,project(id,name,organization(*)))"},
		{"join=tasks.project&join=tasks&join=organization", "select=*,tasks(*,project(*)),organization(*)"},
		{"join=tasks&join=tasks.project&filter=tasks.project.name||$eq||x", "select=*,tasks!inner(*,project!inner(*))&tasks.project.name=eq.x"},
		{"join=tasks&join=tasks.project&or=tasks.project.name||$eq||x&or=name||$eq||y", "select=*,tasks!inner(*,project!inner(*))&or=(tasks.project.name.eq.x,name.eq.y)"},
		{"sort=createdAt,DESC&limit=3&page=2", "order=createdAt.desc&limit=3&page=2"},
		{"sort=description,DESC&sort=name", "order=description.desc.nullsfirst,name.asc.nullslast"},
		{"limit=10&offset=20&cache=0", "limit=10&offset=20&select=*"},
	} {
		t.Run(c.postgrest, func(t *testing.T) {
			n := mustParse(t, c.nestjsx, testProjects)
			p := mustParse(t, c.postgrest, testProjects, countExact...)
			if n.dialect != nestjsx || p.dialect != postgrest {
				t.Fatalf("dialects %s and %s", n.dialect, p.dialect)
			}
			ns, ps := n.Build(projectScope), p.Build(projectScope)
			if ns.List != ps.List || ns.Count != ps.Count || !reflect.DeepEqual(ns.ListArgs, ps.ListArgs) {
				t.Fatalf("nestjsx   %s %v\npostgrest %s %v", ns.List, ns.ListArgs, ps.List, ps.ListArgs)
			}
			if n.Key() != p.Key() {
				t.Fatal("equal answers under different cache keys")
			}
			if uncounted := mustParse(t, c.postgrest, testProjects); uncounted.Key() == n.Key() || uncounted.Build(projectScope).Count != "" {
				t.Fatal("a PostgREST list without Prefer: count=exact must neither count nor share the counted answer's key")
			}
		})
	}
}

// TestPostgRESTWhere pins the SQL of what only the PostgREST dialect says.
func TestPostgRESTWhere(t *testing.T) {
	cases := []struct {
		name, query string
		sql         string
		args        []any
	}{
		{"LikeStarIsTheWildcard", "name=like.*50%25_x*", `p.name LIKE $2::text ESCAPE '\'`, []any{`%50\%\_x%`}},
		{"LikeNoStarIsExact", "name=like.a_b", `p.name LIKE $2::text ESCAPE '\'`, []any{`a\_b`}},
		{"LikeEscapesBackslash", `name=like.a\*`, `p.name LIKE $2::text ESCAPE '\'`, []any{`a\\%`}},
		{"ILikeFolds", "name=ilike.*Ü*", "lower(p.name COLLATE " + icu + ") LIKE lower($2::text COLLATE " + icu + `) ESCAPE '\'`, []any{"%Ü%"}},
		{"ValueKeepsDots", "name=eq.a.b.c", "p.name = $2::text", []any{"a.b.c"}},
		{"ValueKeepsQuotesOutsideTrees", `name=eq."a"`, "p.name = $2::text", []any{`"a"`}},
		{"EmptyValueIsEmptyText", "name=eq.&select=name", "p.name = $2::text", []any{""}},
		{"IsNullCaseInsensitive", "description=is.NULL", "p.description IS NULL", nil},
		{"InEmptyItem", "name=in.(a,,b)", "p.name = ANY($2::text[])", []any{[]string{"a", "", "b"}}},
		{"InEscapedQuote", `name=in.("a\"b",c)`, "p.name = ANY($2::text[])", []any{[]string{`a"b`, "c"}}},
		{"AndOfParams", "version=gt.1&name=eq.a", "(p.name = $2::text AND p.version > $3::bigint)", []any{"a", "1"}},
		{"NotOrIsAndOfNegations", "not.or=(name.eq.a,name.like.b*)", `(p.name <> $2::text AND p.name NOT LIKE $3::text ESCAPE '\')`, []any{"a", `b%`}},
		{"NestedNegations", "not.and=(version.gt.1,not.or(name.eq.a,description.is.null))",
			"(p.version <= $2::bigint OR p.name = $3::text OR p.description IS NULL)", []any{"1", "a"}},
		{"AndWithNestedOr", "and=(version.gte.1,or(name.eq.a,name.eq.b),status.in.(active))",
			"(p.version >= $2::bigint AND (p.name = $3::text OR p.name = $4::text) AND p.status = ANY($5::text[]))", []any{"1", "a", "b", []string{"active"}}},
		{"EmbeddedFilterShapesOnly", "select=id,tasks(title)&tasks.status=eq.done", "TRUE", nil},
		{"InnerFiltersParents", "select=id,tasks!inner(title)&tasks.status=eq.done",
			"EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN tasks p_f0 ON p_f0.project_id = p.id AND p_f0.deleted_at IS NULL WHERE p_f0.status = $2::text)", []any{"done"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := mustParse(t, c.query, testProjects, DialectHeader, "postgrest")
			sql, args := where(q)
			if sql != c.sql {
				t.Errorf("sql\n got %s\nwant %s", sql, c.sql)
			}
			if len(args) != len(c.args) || (len(args) > 0 && !reflect.DeepEqual(args, c.args)) {
				t.Errorf("args\n got %#v\nwant %#v", args, c.args)
			}
		})
	}

	// not.is.true holds for false and for NULL, as PostgreSQL's IS NOT TRUE does.
	s := NewSchema("flags", Field{Name: "on", Column: "on_", Type: Bool, Nullable: true})
	q := mustParse(t, "on=not.is.true", s)
	if sql, args := where(q); sql != "(p.on_ = $2::boolean OR p.on_ IS NULL)" || !reflect.DeepEqual(args, []any{"false"}) {
		t.Errorf("not.is.true: %s %v", sql, args)
	}
	if sql, args := where(mustParse(t, "on=is.false", s)); sql != "p.on_ = $2::boolean" || !reflect.DeepEqual(args, []any{"false"}) {
		t.Errorf("is.false: %s %v", sql, args)
	}
}

// TestPostgRESTSelect pins what select= selects: exactly the fields named (no id unless named),
// and the embedded relations, whose filter applies inside their subquery only.
func TestPostgRESTSelect(t *testing.T) {
	var args Args
	q := mustParse(t, "select=name,tasks(title,status),tasks(title)&tasks.status=eq.done", testProjects)
	got := q.Item("p", &args)
	want := `json_build_object('name', p.name, 'tasks', (SELECT coalesce(json_agg(json_build_object('title', p_j0.title, 'status', p_j0.status) ORDER BY p_j0.id), '[]'::json) ` +
		`FROM tasks p_j0 WHERE p_j0.project_id = p.id AND p_j0.deleted_at IS NULL AND p_j0.status = $1::text))`
	if got != want || !reflect.DeepEqual([]any(args), []any{"done"}) {
		t.Fatalf("got  %s %v\nwant %s", got, args, want)
	}
	args = nil
	if got := mustParse(t, "select=organization(name)", testProjects).Item("p", &args); got != `json_build_object('organization', (SELECT json_build_object('name', p_j0.name) FROM organizations p_j0 WHERE p_j0.id = p.organization_id AND p_j0.deleted_at IS NULL))` {
		t.Fatalf("a select of an embed alone: %s", got)
	}
	for query, fields := range map[string]string{
		"select=*":                  "id,organizationId,name,description,status,createdAt,updatedAt,version",
		"select=version,name":       "name,version",
		"select=,":                  "id,organizationId,name,description,status,createdAt,updatedAt,version",
		"select=*,tasks(*)&limit=1": "id,organizationId,name,description,status,createdAt,updatedAt,version",
	} {
		var names []string
		for _, f := range mustParse(t, query, testProjects, DialectHeader, "postgrest").Fields() {
			names = append(names, f.Name)
		}
		if strings.Join(names, ",") != fields {
			t.Errorf("%s selects %v, want %s", query, names, fields)
		}
	}
}

// TestPostgRESTNestedEmbedding pins the scope of a filter on a nested embed: the embedded
// rows it names only, and with !inner also their parents', up through the !inner embeds.
func TestPostgRESTNestedEmbedding(t *testing.T) {
	const org = "FROM organizations p_j1 WHERE p_j1.id = p_j0.organization_id AND p_j1.deleted_at IS NULL AND p_j1.name = $%d::text"
	const exists = "FROM projects p_j0 WHERE p_j0.id = p.project_id AND p_j0.deleted_at IS NULL AND EXISTS (SELECT FROM (SELECT) AS one " +
		"LEFT JOIN organizations p_f1 ON p_f1.id = p_j0.organization_id AND p_f1.deleted_at IS NULL WHERE p_f1.name = $%d::text)"
	for _, c := range []struct {
		query, where string
		item         []string
	}{
		// The organizations only: every task is listed, its project too, with a null organization.
		{"select=title,project(name,organization(name))&project.organization.name=eq.acme", "TRUE",
			[]string{fmt.Sprintf(org, 1), "FROM projects p_j0 WHERE p_j0.id = p.project_id AND p_j0.deleted_at IS NULL))"}},
		// The projects too: a task's project is null unless its organization matches.
		{"select=title,project(name,organization!inner(name))&project.organization.name=eq.acme", "TRUE",
			[]string{fmt.Sprintf(org, 1), fmt.Sprintf(exists, 2)}},
		// The tasks too: the nestjsx semantics.
		{"select=title,project!inner(name,organization!inner(name))&project.organization.name=eq.acme",
			"EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN projects p_f0 ON p_f0.id = p.project_id AND p_f0.deleted_at IS NULL " +
				"LEFT JOIN organizations p_f1 ON p_f1.id = p_f0.organization_id AND p_f1.deleted_at IS NULL WHERE p_f1.name = $1::text)",
			[]string{fmt.Sprintf(org, 2), fmt.Sprintf(exists, 3)}},
		// A tree scoped to an embed, naming the embed's !inner embed.
		{"select=title,project(name,organization!inner(name))&project.or=(organization.name.eq.acme,status.eq.active)", "TRUE",
			[]string{"FROM organizations p_j1 WHERE p_j1.id = p_j0.organization_id AND p_j1.deleted_at IS NULL AND (p_j1.name = $1::text OR p_j0.status = $2::text)",
				"FROM projects p_j0 WHERE p_j0.id = p.project_id AND p_j0.deleted_at IS NULL AND EXISTS (SELECT FROM (SELECT) AS one " +
					"LEFT JOIN organizations p_f1 ON p_f1.id = p_j0.organization_id AND p_f1.deleted_at IS NULL WHERE (p_f1.name = $3::text OR p_j0.status = $4::text))"}},
	} {
		q := mustParse(t, c.query, testTasks)
		var args Args
		if got := q.Where("p", &args); got != c.where {
			t.Errorf("%s: Where\n got %s\nwant %s", c.query, got, c.where)
		}
		item := q.Item("p", &args)
		for _, part := range c.item {
			if !strings.Contains(item, part) {
				t.Errorf("%s: Item lacks\n%s\nin\n%s", c.query, part, item)
			}
		}
	}
	// select=tasks(project(*)) selects no field of the task.
	var args Args
	if got := mustParse(t, "select=project(organization(name))", testTasks).Item("p", &args); !strings.HasPrefix(got, "json_build_object('project', (SELECT json_build_object('organization', (SELECT json_build_object('name', p_j1.name) ") {
		t.Errorf("a select of a nested embed alone: %s", got)
	}
}

// TestJoinLimits checks the limits of the join tree: its depth, in both dialects, and the
// number of joins, which a PostgREST select could otherwise multiply (five relations three
// levels deep are 155 joins); a cycle in the schema graph is fine.
func TestJoinLimits(t *testing.T) {
	wide := NewSchema("wide", Field{Name: "name", Column: "name", Type: Text})
	for i := range 5 {
		wide.Join(Relation{Name: fmt.Sprintf("r%d", i), Many: true, Schema: wide, Local: "id", Foreign: "wide_id"})
	}
	var embeds func(depth int) string
	embeds = func(depth int) string {
		if depth == 0 {
			return "*"
		}
		items := []string{"*"}
		for i := range 5 {
			items = append(items, fmt.Sprintf("r%d(%s)", i, embeds(depth-1)))
		}
		return strings.Join(items, ",")
	}
	_, err := parse("select="+embeds(3), wide)
	if fe := badRequest(t, err); fe.Message != "select: more than 100 joins (155 given)" {
		t.Fatalf("155 embeds: %s", fe.Message)
	}
	q := mustParse(t, "select="+embeds(2), wide)
	if n := len(q.Joins()); n != 30 {
		t.Fatalf("%d joins, want 30", n)
	}
	st := q.Build(Scope{Alias: "w"})
	if n := strings.Count(st.List, "(SELECT "); n != 30 || !strings.Contains(st.List, "w_j29") {
		t.Fatalf("%d subqueries, want one per join: %s", n, st.List)
	}
	joins := "join=r4.r4.r4&join=r4.r4&join=r4"
	q = mustParse(t, joins, wide)
	if got := strings.Join(q.Joins(), ","); got != "r4,r4.r4,r4.r4.r4" {
		t.Fatalf("Joins() = %s", got)
	}
	for _, query := range []string{joins + "&join=r4.r4.r4.r4", "select=r4(r4(r4(r4(*))))"} {
		_, err := parse(query, wide)
		if fe := badRequest(t, err); !strings.Contains(fe.Message, "4 levels deep, more than 3") {
			t.Errorf("%s: %s", query, fe.Message)
		}
	}
}

// TestRelationFilterSQL pins the statement of a filter on a joined relation's fields: the
// row's own conditions stay in the WHERE, the relation's go in an EXISTS and in the relation's
// subquery, every value bound.
func TestRelationFilterSQL(t *testing.T) {
	q := mustParse(t, "join=tasks||title&filter=name||$eq||x&filter=tasks.status||$eq||done&fields=name", testProjects)
	st := q.Build(projectScope)
	want := "SELECT json_build_object('id', p.id, 'name', p.name, 'tasks', (SELECT coalesce(json_agg(json_build_object('id', p_j0.id, 'title', p_j0.title) ORDER BY p_j0.id), '[]'::json) " +
		"FROM tasks p_j0 WHERE p_j0.project_id = p.id AND p_j0.deleted_at IS NULL AND p_j0.status = $4::text)) AS item, NULL::json AS key " +
		"FROM projects p WHERE (p.organization_id = ANY($1) AND p.deleted_at IS NULL) AND p.name = $2::text AND " +
		"EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN tasks p_f0 ON p_f0.project_id = p.id AND p_f0.deleted_at IS NULL WHERE p_f0.status = $3::text) " +
		"ORDER BY p.id ASC NULLS LAST LIMIT $5 OFFSET $6"
	if st.List != want || !reflect.DeepEqual(st.ListArgs, []any{[]string{id1}, "x", "done", "done", int64(20), int64(0)}) {
		t.Fatalf("List\n got %s %#v\nwant %s", st.List, st.ListArgs, want)
	}
	if !strings.HasSuffix(st.Count, "AND p.name = $2::text AND EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN tasks p_f0 ON p_f0.project_id = p.id AND p_f0.deleted_at IS NULL WHERE p_f0.status = $3::text)") ||
		!reflect.DeepEqual(st.CountArgs, []any{[]string{id1}, "x", "done"}) {
		t.Fatalf("Count %s %#v", st.Count, st.CountArgs)
	}

	// Inside an OR, the row's own condition goes with the relation's: a row with no task
	// passes on its own side through the NULL row of the LEFT JOIN, and a row that passes on
	// its own side holds all its tasks.
	q = mustParse(t, "join=tasks&join=organization&or=name||$eq||x&or=tasks.status||$eq||done&or=organization.name||$eq||acme", testTasks.relByName["project"].Schema)
	var args Args
	if got := q.Where("p", &args); got != "EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN tasks p_f0 ON p_f0.project_id = p.id AND p_f0.deleted_at IS NULL "+
		"LEFT JOIN organizations p_f1 ON p_f1.id = p.organization_id AND p_f1.deleted_at IS NULL WHERE (p.name = $1::text OR p_f0.status = $2::text OR p_f1.name = $3::text))" {
		t.Fatalf("Where %s", got)
	}
	args = nil
	item := q.Item("p", &args)
	for _, part := range []string{
		"FROM tasks p_j0 WHERE p_j0.project_id = p.id AND p_j0.deleted_at IS NULL AND EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN organizations p_f1 ON p_f1.id = p.organization_id AND p_f1.deleted_at IS NULL WHERE (p.name = $1::text OR p_j0.status = $2::text OR p_f1.name = $3::text))",
		"FROM organizations p_j1 WHERE p_j1.id = p.organization_id AND p_j1.deleted_at IS NULL AND EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN tasks p_f0 ON p_f0.project_id = p.id AND p_f0.deleted_at IS NULL WHERE (p.name = $4::text OR p_f0.status = $5::text OR p_j1.name = $6::text))",
	} {
		if !strings.Contains(item, part) {
			t.Errorf("Item lacks\n%s\nin\n%s", part, item)
		}
	}
}

// TestParseErrorsPostgREST checks that every PostgREST mistake is a 400 naming the parameter
// and what is wrong, as in the nestjsx dialect.
func TestParseErrorsPostgREST(t *testing.T) {
	cases := []struct {
		name, query, header, want string
	}{
		{"UnknownField", "nope=eq.1", "postgrest", `nope: unknown field "nope"`},
		{"UnknownFieldDetected", "select=name&nope=eq.1", "", `nope: unknown field "nope"`},
		{"UnknownRelationField", "select=tasks(title)&tasks.nope=eq.1", "", `tasks.nope: unknown field "tasks.nope"`},
		{"UnknownOperator", "name=regex.x", "postgrest", `name: field "name": unknown operator "regex"`},
		{"UnsupportedOperator", "name=fts.x&select=name", "", `unknown operator "fts"`},
		{"NotOperatorValue", "name=Apollo", "postgrest", `name: field "name": "Apollo" is not operator.value`},
		{"NotWithoutOperator", "name=not.x", "postgrest", `is not operator.value`},
		{"BadValue", "version=gt.x", "", `version: field "version": "x" is not an integer`},
		{"BadEnum", "status=eq.running", "", `status: field "status": "running" is not one of planning`},
		{"LikeOnInt", "version=like.1*", "", "version: field \"version\": like applies to text fields, not to a integer"},
		{"IsMaybe", "description=is.maybe", "", `is takes null, true or false, not "maybe"`},
		{"IsTrueOnText", "description=is.true", "", `is.true applies to boolean fields, not to a text`},
		{"InWithoutParens", "status=in.active", "", `status: field "status": in takes (a,b,…)`},
		{"InEmpty", "status=in.()", "", `in takes 1 to 500 values`},
		{"InUnbalanced", `status=in.("active)`, "", "unbalanced parentheses or quotes"},
		{"TreeNotParenthesised", "or=name.eq.a", "postgrest", `or: "name.eq.a" is not (condition,…)`},
		{"TreeUnknownField", "or=(nope.eq.a)", "", `or: unknown field "nope"`},
		{"TreeBadLeaf", "and=(name.eq)", "", `and: field "name": "eq" is not operator.value`},
		{"TreeTooDeep", "or=" + strings.Repeat("(or", 20) + "(name.eq.a" + strings.Repeat(")", 21), "", "nested more than"},
		{"TreeRelationWithoutInner", "select=*,tasks(*)&or=(tasks.status.eq.done,name.eq.x)", "", `or: field "tasks.status": a relation's field in or needs tasks!inner(…) in select`},
		{"RelationNotEmbedded", "select=name&tasks.status=eq.done", "", `tasks.status: field "tasks.status": relation "tasks" is not embedded (add tasks(…) to select)`},
		{"RelationTreeNotEmbedded", "select=name&tasks.or=(status.eq.done)", "", `tasks.or: relation "tasks" is not embedded`},
		{"RelationTreeOwnField", "select=tasks(*)&tasks.or=(name.eq.x)", "", `tasks.or: unknown field "tasks.name"`},
		{"EmbeddedOrder", "select=tasks(*)&tasks.order=title.asc", "", "tasks.order: ordering or paging an embedded relation is not supported"},
		{"SelectUnknownField", "select=name,nope", "", `select: unknown field "nope"`},
		{"SelectUnknownRelation", "select=name,nope(id)", "", `select: unknown relation "nope"`},
		{"SelectUnknownEmbedField", "select=tasks(nope)", "", `select: unknown field "tasks.nope"`},
		{"SelectRename", "select=title:name", "", "renaming and casts (alias:field, field::type) are not supported"},
		{"SelectCast", "select=name::text", "", "renaming and casts"},
		{"SelectNestedRename", "select=tasks(title,p:project(name))", "", `select: "p:project": renaming (alias:relation) is not supported`},
		{"SelectNestedCast", "select=tasks(project(name::text))", "", "renaming and casts (alias:field, field::type) are not supported"},
		{"SelectTooDeep", "select=tasks(project(tasks(project(name))))", "", `select: "tasks.project.tasks.project" nests embedded relations 4 levels deep, more than 3`},
		{"SelectNestedUnknownRelation", "select=tasks(nope(*))", "", `select: unknown relation "tasks.nope"`},
		{"SelectNestedUnknownField", "select=tasks(project(nope))", "", `select: unknown field "tasks.project.nope"`},
		{"SelectNestedHint", "select=tasks(project!right(*))", "", `unknown embedding hint "!right"`},
		{"NestedNotEmbedded", "select=tasks(*)&tasks.project.name=eq.x", "", `tasks.project.name: field "tasks.project.name": relation "tasks.project" is not embedded (add tasks(project(…)) to select)`},
		{"NestedTreeNotEmbedded", "select=tasks(*)&tasks.project.or=(name.eq.x)", "", `tasks.project.or: relation "tasks.project" is not embedded`},
		{"NestedTreeNeedsInner", "select=*,tasks!inner(*,project(*))&or=(tasks.project.name.eq.x,name.eq.y)", "", `or: field "tasks.project.name": a relation's field in or needs project!inner(…) in select`},
		{"NestedScopedTreeNeedsInner", "select=*,tasks(*,project(*))&tasks.or=(project.name.eq.x,title.eq.y)", "", `tasks.or: field "project.name": a relation's field in tasks.or needs project!inner(…) in select`},
		{"NestedEmbeddedOrder", "select=tasks(*,project(*))&tasks.project.order=name.asc", "", "tasks.project.order: ordering or paging an embedded relation is not supported"},
		{"SelectHint", "select=tasks!fk_tasks(title)", "", `unknown embedding hint "!fk_tasks"`},
		{"SelectEmptyEmbed", "select=tasks()", "", "select: tasks(): name the fields, or *"},
		{"SelectUnbalanced", "select=tasks(title", "", "select: \"tasks(title\" has unbalanced parentheses"},
		{"OrderUnknownField", "order=nope.asc", "", `order: unknown field "nope"`},
		{"OrderModifier", "order=name.up", "", `order: field "name": "up" is not asc, desc, nullsfirst or nullslast`},
		{"OrderByEmbedded", "order=organization(name).asc", "", "ordering by an embedded relation's field is not supported"},
		{"NegativeLimit", "select=name&limit=-1", "", "limit: -1 is negative"},
		{"NegativeOffset", "order=name&offset=-1", "", "offset: -1 is negative"},

		// Mixing dialects, and the header.
		{"Mixed", "filter=name||$eq||x&select=name", "", "query: nestjsx parameters (filter) and PostgREST parameters (select) can't be mixed"},
		{"MixedFilterAndColumn", "sort=name,ASC&filter=version||$gt||1&name=eq.x", "", "nestjsx parameters (filter, sort) and PostgREST parameters (name)"},
		{"MixedOr", "filter=name||$eq||x&or=(name.eq.y)", "", "nestjsx parameters (filter) and PostgREST parameters (or)"},
		{"MixedBracketed", "filter[0]=name||$eq||x&order=name", "", "nestjsx parameters (filter) and PostgREST parameters (order)"},
		{"MixedCursor", "cursor=&order=name", "", "nestjsx parameters (cursor) and PostgREST parameters (order)"},
		{"MixedPerPage", "per_page=5&select=name", "", "nestjsx parameters (per_page) and PostgREST parameters (select)"},
		{"NestjsxUnderPostgRESTHeader", "sort=name,ASC", "postgrest", `query: sort: nestjsx parameters, but X-Crud-Dialect is postgrest`},
		{"PostgRESTUnderNestjsxHeader", "order=name&status=eq.active", "nestjsx", "query: order, status: PostgREST parameters, but X-Crud-Dialect is nestjsx"},
		{"UnknownDialect", "", "graphql", `X-Crud-Dialect: "graphql" is not postgrest or nestjsx`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h []string
			if c.header != "" {
				h = []string{DialectHeader, c.header}
			}
			_, err := parse(c.query, testProjects, h...)
			if fe := badRequest(t, err); !strings.Contains(fe.Message, c.want) {
				t.Fatalf("message %q does not contain %q", fe.Message, c.want)
			}
		})
	}
}

// TestChooseDialect pins how a request's dialect is chosen without the header, as APSO's crud
// package chooses it: PostgREST's parameters (select, order, and, or=(…), a known field's
// op.value) choose PostgREST, anything else nestjsx.
func TestChooseDialect(t *testing.T) {
	for query, want := range map[string]dialect{
		"cursor=&limit=2":                  nestjsx,
		"":                                 nestjsx,
		"limit=5&offset=10&page=2&cache=0": nestjsx,
		"filter=name||$eq||x":              nestjsx,
		"or=name||$eq||x":                  nestjsx,
		"fields=name":                      nestjsx,
		"per_page=5":                       nestjsx,
		"cursor=":                          nestjsx,
		"utm_source=eq.news":               nestjsx, // not a field: no signal
		"name=Apollo":                      nestjsx, // a field, but not op.value
		"select=&order=":                   nestjsx, // empty slots show nothing
		"select=name":                      postgrest,
		"order=name.desc":                  postgrest,
		"name=eq.Apollo":                   postgrest,
		"version=not.gt.3":                 postgrest,
		"tasks.status=eq.done":             postgrest,
		"tasks.or=(status.eq.done)":        postgrest,
		"or=(name.eq.a)":                   postgrest,
		"and=(name.eq.a)":                  postgrest,
		"not.or=(name.eq.a)":               postgrest,
		"limit=5&status=in.(active)":       postgrest,
	} {
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := chooseDialect(v, "", testProjects); err != nil || got != want {
			t.Errorf("%q reads as %s (%v), want %s", query, got, err, want)
		}
	}
	// select is the reference's alias of fields when the header says nestjsx.
	q := mustParse(t, "select=name", testProjects, DialectHeader, " NestJSX ")
	if q.dialect != nestjsx || len(q.fields) != 2 || q.fields[0].Name != "id" {
		t.Fatalf("select under nestjsx: %s %v", q.dialect, q.Fields())
	}
}

// TestRespond pins the answer of each dialect from the same page.
func TestRespond(t *testing.T) {
	cases := []struct {
		query   string
		prefer  string
		rows    int
		total   int64
		status  int
		rng     string
		bodyLen int
	}{
		{"limit=10&select=id", "count=exact", 10, 35, http.StatusPartialContent, "0-9/35", 10},
		{"limit=10&offset=30&select=id", "count=exact", 5, 0, http.StatusPartialContent, "30-34/35", 5},
		{"limit=10&offset=35&select=id", "count=exact", 0, 35, http.StatusPartialContent, "*/35", 0},
		{"limit=10&select=id", "return=minimal, count=exact", 4, 0, http.StatusOK, "0-3/4", 4},
		{"limit=10&select=id", "count=planned", 0, 0, http.StatusOK, "*/0", 0},
		{"limit=10&offset=40&select=id", "count=exact", 0, 35, http.StatusOK, "*/35", 0},
		{"limit=10&offset=20&select=id", "", 10, 0, http.StatusOK, "20-29/*", 10},
		{"limit=10&select=id", "", 0, 0, http.StatusOK, "*/*", 0},
		{"limit=0&select=id", "count=exact", 0, 35, http.StatusPartialContent, "*/35", 0},
	}
	for _, c := range cases {
		t.Run(c.query+"/"+c.prefer, func(t *testing.T) {
			var h []string
			if c.prefer != "" {
				h = []string{"Prefer", c.prefer}
			}
			q := mustParse(t, c.query, testProjects, h...)
			p, err := q.ReadPage(rowsOf(c.rows, false))
			if err != nil {
				t.Fatal(err)
			}
			if p.NeedsTotal() {
				p.SetTotal(c.total)
			}
			page, err := p.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			header := http.Header{}
			status, body, err := q.Respond(header, page)
			if err != nil {
				t.Fatal(err)
			}
			var items []map[string]int
			if err := json.Unmarshal(body, &items); err != nil || len(items) != c.bodyLen || (c.bodyLen > 0 && items[0]["n"] != 0) {
				t.Fatalf("body %s (%v), want a bare array of %d items", body, err, c.bodyLen)
			}
			if status != c.status || header.Get("Content-Range") != c.rng || header.Get(DialectHeader) != "postgrest" {
				t.Fatalf("status %d Content-Range %q %s, want %d %q", status, header.Get("Content-Range"), header.Get(DialectHeader), c.status, c.rng)
			}
		})
	}
	q := mustParse(t, "limit=10", testProjects)
	header := http.Header{}
	page := []byte(`{"data":[],"count":0,"total":0,"page":1,"pageCount":1}`)
	if status, body, err := q.Respond(header, page); err != nil || status != http.StatusOK || string(body) != string(page) ||
		header.Get("Content-Range") != "" || header.Get(DialectHeader) != "nestjsx" {
		t.Fatalf("nestjsx answers its page as it is: %d %s %v %v", status, body, header, err)
	}
}

// TestLimitsBeforeParsing checks that a query with too many values is refused from the counts,
// before any value is parsed: values that would each fail parsing (an unknown field) must not
// be what the error reports.
func TestLimitsBeforeParsing(t *testing.T) {
	many := func(key func(i int) string, value string, n int) string {
		v := url.Values{}
		for i := range n {
			v.Add(key(i), value)
		}
		return v.Encode()
	}
	same := func(k string) func(int) string { return func(int) string { return k } }
	cases := []struct {
		name, query, header, want string
	}{
		{"TenThousandFilters", many(same("filter"), "nope||$nope||x", 10_000), "", "filter: more than 100 conditions (10000 given)"},
		{"TenThousandBracketedFilters", many(func(i int) string { return fmt.Sprintf("filter[%d]", i) }, "nope||$eq||1", 10_000), "", "filter: more than 100 conditions (10000 given)"},
		{"FiltersAndOrs", many(same("filter"), "nope", 60) + "&" + many(same("or"), "nope", 60), "", "filter, or: more than 100 conditions (120 given)"},
		{"Ors", many(same("or[]"), "nope", 101), "", "or: more than 100 conditions (101 given)"},
		{"Sorts", many(same("sort"), "nope,UP", 101), "", "sort: more than 100 values (101 given)"},
		{"Joins", many(same("join"), "nope", 500), "", "join: more than 100 values (500 given)"},
		{"PostgRESTFilters", many(same("name"), "eq.x", 101), "", "query: more than 100 filters (101 given)"},
		{"PostgRESTManyColumns", many(func(i int) string { return fmt.Sprintf("c%d", i) }, "regex.x", 101), "postgrest", "query: more than 100 filters (101 given)"},
		{"PostgRESTOrders", many(same("order"), "nope.up", 101), "", "order: more than 100 values (101 given)"},
		{"Size", "filter=name||$in||" + strings.Repeat("x,", 20_000), "", "query: the parameters hold more than 32768 bytes"},
		{"SizeOfIgnoredParameters", "x=" + strings.Repeat("y", 40_000), "", "query: the parameters hold more than 32768 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h []string
			if c.header != "" {
				h = []string{DialectHeader, c.header}
			}
			_, err := parse(c.query, testProjects, h...)
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Code != fault.BadRequest || fe.Message != c.want {
				t.Fatalf("err = %v, want the 400 %q", err, c.want)
			}
		})
	}
	// Right at the limits, the query parses.
	if _, err := parse(many(same("filter"), "version||$gt||1", 100), testProjects); err != nil {
		t.Fatalf("100 filters: %v", err)
	}
	if _, err := parse("filter=id||$in||"+strings.TrimSuffix(strings.Repeat(id1+",", 500), ","), testProjects); err != nil {
		t.Fatalf("500 UUIDs in one $in: %v", err)
	}
}

// TestNonTextRefused checks that a query value that is not text (invalid UTF-8, a NUL) is a 400
// naming the parameter and, where the syntax has one, the field, whichever parameter and
// dialect it is in; the nestjsx dialect accepted invalid UTF-8 on non-text fields and in
// names, and s turned it into U+FFFD.
func TestNonTextRefused(t *testing.T) {
	cases := []struct {
		name, query, want string
	}{
		{"FilterText", "filter=name||$eq||%FF%FE", `filter: field "name": "name||$eq||\xff\xfe" is not UTF-8 text without NUL bytes`},
		{"FilterUUID", "filter=id||$eq||%FF", `filter: field "id": "id||$eq||\xff" is not UTF-8 text`},
		{"FilterNul", "filter=name||$eq||a%00", `filter: field "name": "name||$eq||a\x00" is not UTF-8 text without NUL bytes`},
		{"FilterField", "filter=na%FFme||$eq||x", `filter: "na\xffme||$eq||x" is not UTF-8 text`},
		{"Or", "or=version||$in||1,%C0%80", `or: field "version": "version||$in||1,\xc0\x80" is not UTF-8 text`},
		{"Sort", "sort=name,%FF", `sort: field "name": "name,\xff" is not UTF-8 text`},
		{"Fields", "fields=name,%FF", `fields: "name,\xff" is not UTF-8 text`},
		{"Join", "join=tasks||title,%00", `join: field "tasks": "tasks||title,\x00" is not UTF-8 text`},
		{"Cursor", "cursor=%FF", `cursor: "\xff" is not UTF-8 text`},
		{"Limit", "limit=1%00", `limit: "1\x00" is not UTF-8 text`},
		{"Search", "s=%7B%22name%22%3A%22%ED%A0%80%22%7D", `s: field "name": a string is not valid UTF-8 text`},
		{"PostgRESTValue", "name=eq.%FF%FE", `name: field "name": "eq.\xff\xfe" is not UTF-8 text without NUL bytes`},
		{"PostgRESTRelation", "select=tasks(*)&tasks.title=like.%00*", `tasks.title: field "tasks.title": "like.\x00*" is not UTF-8 text`},
		{"PostgRESTTree", "or=(name.eq.%FF)", `or: "(name.eq.\xff)" is not UTF-8 text`},
		{"PostgRESTSelect", "select=name%FF", `select: "name\xff" is not UTF-8 text`},
		{"PostgRESTOrder", "order=name.%00", `order: "name.\x00" is not UTF-8 text`},
		// What a gateway's JSON event makes of %FF%FE: U+FFFD, refused the same.
		{"ReplacementCharacter", "filter=name||$eq||%EF%BF%BD%EF%BF%BD", `filter: field "name": "name||$eq||��" is not UTF-8 text`},
		{"ReplacementCharacterInSearch", "s=%7B%22name%22%3A%22%EF%BF%BD%22%7D", `s: "{\"name\":\"�\"}" is not UTF-8 text`},
		{"ReplacementCharacterPostgREST", "name=eq.%EF%BF%BD", `name: field "name": "eq.�" is not UTF-8 text`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.query, testProjects)
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Code != fault.BadRequest || !strings.HasPrefix(fe.Message, c.want) {
				t.Fatalf("err = %v, want the 400 %q…", err, c.want)
			}
		})
	}
}
